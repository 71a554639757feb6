"""Which bnlib code answers which implement exercise: each checker's reference.

A student notebook must not show this code before the exercise that asks for
it (the student tests scan the notebooks for it). :func:`targets` maps a
checker's name to the functions whose source is the answer; a checker added
elsewhere can register its own with :func:`register`.
"""
from __future__ import annotations

from importlib import import_module

from .. import batchnorm, gradcheck, graph, norms

__all__ = ["targets", "register"]

_TARGETS = {
    "check_node_forward": lambda: [n.forward for n in graph.NODES],
    "check_node_backward": lambda: [n.backward for n in graph.NODES],
    "check_batchnorm_forward": lambda: [batchnorm.batchnorm_forward],
    "check_batchnorm_backward": lambda: [batchnorm.batchnorm_backward],
    "check_running_update": lambda: [batchnorm.BatchNorm.forward],
    "check_batchnorm_inference": lambda: [batchnorm.batchnorm_inference],
    "check_fold": lambda: [batchnorm.fold_into_linear],
    "check_spatial_batchnorm": lambda: [batchnorm.batchnorm_forward],
    # the per-example norms share one private forward, where the arithmetic is
    "check_layernorm_forward": lambda: [norms.layernorm_forward, norms.groupnorm_forward,
                                        *[f for f in (getattr(norms, "_forward", None),) if callable(f)]],
    "check_layernorm_backward": lambda: [norms.layernorm_backward, norms.groupnorm_backward],
    "check_numerical_gradient": lambda: [gradcheck.numerical_gradient, gradcheck.numerical_gradients],
    "check_rmsnorm_backward": lambda: [import_module("bnlib.rmsnorm").rmsnorm_backward],
    "check_adabn": lambda: [import_module("bnlib.experiments.adaptation").adapt_batchnorm],
    "check_merge_statistics": lambda: [import_module("bnlib.numerics").chan_merge],
}


def register(checker_name: str, functions) -> None:
    """Declare the functions whose source answers the exercise ``checker_name`` checks."""
    found = list(functions)
    _TARGETS[checker_name] = lambda: found


def targets(checker_name: str) -> list:
    """The functions whose source answers the exercise ``checker_name`` checks ([] if none known)."""
    make = _TARGETS.get(checker_name)
    return list(dict.fromkeys(make())) if make else []
