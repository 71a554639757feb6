"""The paper's experiments as seeded functions returning plain results.

Harness: :func:`mlp`, :func:`train` (-> :class:`History`), :func:`evaluate`,
:func:`steps_to_accuracy`. Claims (one function each, dataclass results):
:func:`drift`, :func:`figure1`, :func:`lr_sweep`, :func:`init_sweep`,
:func:`deep_sigmoid`, :func:`regularization`, :func:`bn_placement`,
:func:`batch_noise`, :func:`gradient_flow`, :func:`scale_invariance`,
:func:`train_eval_gap`, :func:`noisy_bn`, :func:`smoothness`, :func:`scorecard`;
and the small-batch comparison of the normalizations, :func:`small_batch`.
Many devices and finite precision (``devices``), the normalizers of today
(``normalizers``) and batch norm after training
(``after_training``, ``adaptation``, ``shifted``).
"""
from .beyond import NoisyBNResult, SmoothnessResult, noisy_bn, smoothness
from .devices import (CancellationResult, GhostNoiseResult, PreciseBNResult, cancellation, ghost_noise,
                      precise_bn, recompute_statistics)
from .claims import (DeepResult, DriftResult, Figure1Result, PlacementResult, RegularizationResult,
                     StepsTo, SweepResult, bn_placement, deep_sigmoid, drift, figure1, init_sweep,
                     lr_sweep, regularization)
from .mechanics import (BatchNoiseResult, GradientFlowResult, ScaleInvarianceResult,
                        TrainEvalGapResult, batch_noise, gradient_flow, scale_invariance,
                        train_eval_gap)
from .models import MLP, NORM_LAYERS, ShiftNoise, mlp
from .relatives import NORMS, SmallBatchResult, small_batch
from .scorecard import ScorecardResult, ScoreRow, scorecard
from .training import History, evaluate, split_data, steps_to_accuracy, train
from .adaptation import (CORRUPTIONS, FrozenBN, accuracy, adapt_batchnorm, corrupt, freeze_batchnorm,
                         predict_with_test_statistics, pretrained_nets)
from .after_training import (COMPARED, FoldResult, RenormResult, batch_statistics_predict,
                             fold_network, fold_traps, renorm_comparison)
from .normalizers import (TOKEN_NORMS, DecodeResult, PaddingSweep, WSResult, companion_change,
                          decode_one, normalize_tokens, padding_sweep, token_batch, ws_comparison)
from .shifted import (BudgetResult, FinetuneResult, ShiftResult, SmallBatchTTAResult,
                      adaptation_budget, corruption_study, frozen_finetune, small_test_batches)

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
    # many devices, finite precision
    "cancellation", "ghost_noise", "recompute_statistics", "precise_bn", "CancellationResult",
    "GhostNoiseResult", "PreciseBNResult",
    # the normalizers of today, and batch norm after training
    "NORM_LAYERS", "COMPARED", "renorm_comparison", "batch_statistics_predict", "fold_network",
    "fold_traps", "corrupt", "CORRUPTIONS", "pretrained_nets", "adapt_batchnorm", "accuracy",
    "predict_with_test_statistics", "FrozenBN", "freeze_batchnorm", "corruption_study",
    "adaptation_budget", "small_test_batches", "frozen_finetune", "token_batch", "TOKEN_NORMS",
    "normalize_tokens", "padding_sweep", "companion_change", "decode_one", "ws_comparison",
    "RenormResult", "FoldResult", "ShiftResult", "BudgetResult", "SmallBatchTTAResult",
    "FinetuneResult", "PaddingSweep", "DecodeResult", "WSResult",
]
