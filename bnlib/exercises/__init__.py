"""Checkers for the book's implement-exercises, and the exercise catalogue.

Each ``check_*`` function runs the student's code on seeded float64 test cases
(including a large mean and a variance comparable to eps), compares with a
reference from bnlib or a closed form, and returns a :class:`CheckResult`
(``.passed``, ``.message``; shown as a coloured box in a notebook). A checker
never raises because of student code: a stub still raising
NotImplementedError gives "not implemented yet", and wrong answers are
described in plain words, naming a known mistake when the answer matches one.
"""
from ._judge import TOL
from ._result import CheckResult
from .catalog import Exercise, list_exercises
from .devices import check_merge_statistics
from .inference import check_batchnorm_inference, check_fold, check_running_update
from .layernorm import LNCache, layernorm_backward, layernorm_forward
from .nodes import check_node_backward, check_node_forward
from .norm_checks import (check_batchnorm_backward, check_batchnorm_forward, check_layernorm_backward,
                          check_layernorm_forward, check_spatial_batchnorm)
from .numgrad import check_numerical_gradient
from .zoo import check_adabn, check_rmsnorm_backward

__all__ = [
    "CheckResult", "TOL",
    "check_node_forward", "check_node_backward",
    "check_batchnorm_forward", "check_batchnorm_backward",
    "check_running_update", "check_batchnorm_inference", "check_fold",
    "check_spatial_batchnorm", "check_layernorm_forward", "check_layernorm_backward",
    "check_numerical_gradient",
    "check_rmsnorm_backward", "check_adabn",
    "check_merge_statistics",
    "layernorm_forward", "layernorm_backward", "LNCache",
    "Exercise", "list_exercises",
]
