"""The paper's experiments as seeded functions returning plain results.

Harness: :func:`mlp`, :func:`train` (-> :class:`History`), :func:`evaluate`,
:func:`steps_to_accuracy`. Claims (one function each, dataclass results):
:func:`drift`, :func:`figure1`, :func:`lr_sweep`, :func:`init_sweep`,
:func:`deep_sigmoid`, :func:`regularization`, :func:`bn_placement`,
:func:`batch_noise`, :func:`gradient_flow`, :func:`scale_invariance`,
:func:`train_eval_gap`, :func:`noisy_bn`, :func:`smoothness`, :func:`scorecard`;
and the small-batch comparison of the normalizations, :func:`small_batch`.
"""
from .beyond import NoisyBNResult, SmoothnessResult, noisy_bn, smoothness
from .claims import (DeepResult, DriftResult, Figure1Result, PlacementResult, RegularizationResult,
                     StepsTo, SweepResult, bn_placement, deep_sigmoid, drift, figure1, init_sweep,
                     lr_sweep, regularization)
from .mechanics import (BatchNoiseResult, GradientFlowResult, ScaleInvarianceResult,
                        TrainEvalGapResult, batch_noise, gradient_flow, scale_invariance,
                        train_eval_gap)
from .models import MLP, ShiftNoise, mlp
from .relatives import NORMS, SmallBatchResult, small_batch
from .scorecard import ScorecardResult, ScoreRow, scorecard
from .training import History, evaluate, split_data, steps_to_accuracy, train

__all__ = [
    # harness
    "MLP", "ShiftNoise", "mlp", "History", "train", "evaluate", "split_data", "steps_to_accuracy",
    # claims
    "drift", "figure1", "lr_sweep", "init_sweep", "deep_sigmoid", "regularization", "bn_placement",
    "batch_noise", "gradient_flow", "scale_invariance", "train_eval_gap", "noisy_bn", "smoothness",
    "scorecard", "small_batch", "NORMS",
    # their results
    "DriftResult", "Figure1Result", "StepsTo", "SweepResult", "DeepResult", "RegularizationResult",
    "PlacementResult", "BatchNoiseResult", "GradientFlowResult", "ScaleInvarianceResult",
    "TrainEvalGapResult", "NoisyBNResult", "SmoothnessResult", "ScoreRow", "ScorecardResult",
    "SmallBatchResult",
]
