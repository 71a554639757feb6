"""Checkers for the book's implement-exercises, and the exercise catalogue.

Each ``check_*`` function runs the student's code on seeded float64 test cases
(including a large mean and a variance comparable to eps), compares with a
reference from bnlib or a closed form, and returns a :class:`CheckResult`
(``.passed``, ``.status``, ``.message``; shown as a coloured box in a
notebook). A checker never raises because of student code: a stub still
raising NotImplementedError gives status "todo" ("not implemented yet"), code
that raises, exits or runs longer than :func:`get_time_limit` seconds fails
with a message, a correct float32 answer passes at float32's tolerance, and
wrong answers are described in plain words, naming a known mistake when the
answer matches one. Rebinding the checkers' internals or their references
after import makes every later check fail; :func:`reset_checkers` undoes it.
"""
from ._integrity import restore as reset_checkers
from ._judge import TOL, TOL32
from ._limits import get_time_limit, set_time_limit
from ._outcome import STATUSES, CheckResult
from .catalog import Exercise, list_exercises
from .devices import check_merge_statistics
from .inference import check_batchnorm_inference, check_fold, check_running_update
from .nodes import check_node_backward, check_node_forward
from .norm_checks import (check_batchnorm_backward, check_batchnorm_forward, check_layernorm_backward,
                          check_layernorm_forward, check_spatial_batchnorm)
from .numgrad import check_numerical_gradient
from .targets import targets
from .zoo import check_adabn, check_rmsnorm_backward

__all__ = [
    "CheckResult", "STATUSES", "TOL", "TOL32",
    "check_node_forward", "check_node_backward",
    "check_batchnorm_forward", "check_batchnorm_backward",
    "check_running_update", "check_batchnorm_inference", "check_fold",
    "check_spatial_batchnorm", "check_layernorm_forward", "check_layernorm_backward",
    "check_numerical_gradient",
    "check_rmsnorm_backward", "check_adabn",
    "check_merge_statistics",
    "get_time_limit", "set_time_limit", "reset_checkers", "targets",
    "Exercise", "list_exercises",
]

# Keep this last, after every checker module is imported: it records what the
# checks rely on, so that later changes to it can be noticed and undone.
from ._integrity import snapshot as _snapshot  # noqa: E402

_snapshot()
