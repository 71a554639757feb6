"""How fast the live views redraw: the median time of a parameter-control update (for `make bench`).

An update is what happens when a learner moves a slider in Jupyter: the
ipywidgets observer recomputes the numbers for the new value and redraws the
frame on show. Only parameter controls are timed (moving the frame slider
alone is cheaper still), so the figure is the honest, slower one. Each control
alternates between two values, and the animation forgets its computed numbers
before every update, so every timed call is a real recompute.
"""
from __future__ import annotations

import itertools
import statistics

from bnlib.timing import interleaved

__all__ = ["benchmark_updates", "UPDATE_BUDGET_MS"]

UPDATE_BUDGET_MS = 50.0
"""Target: median control-update render time, in milliseconds."""


def _plans():
    from bnlib.widgets import distributions, gradient_flow, train_eval_gap, transform_playground
    from bnlib.widgets.distributions import synthetic_result

    return {
        "gradient_flow": (gradient_flow, {"gamma": [0.5, 2.0], "eps": [1e-3, 1e-1], "N": [8, 16],
                                          "D": [4, 2], "upstream": ["uniform", "random"]}),
        "distributions": (lambda: distributions(synthetic_result()), {
            "bins": [20, 40], "xlim": [6.0, 10.0]}),
        "transform_playground": (transform_playground, {
            "gamma": [0.5, 2.0], "eps": [1e-2, 1.0], "N": [16, 256], "mean": [0.0, -2.0]}),
        "train_eval_gap": (train_eval_gap, {
            "momentum": [0.05, 0.3], "steps": [50, 100], "train_batch": [8, 32], "scale": [1.0, 2.0]}),
    }


def _updater(view, key, values):
    """A callable that moves one control to its next value (so every call changes it)."""
    cycle = itertools.cycle(values)

    def update():
        view.animation.clear_cache()
        view.controls[key].value = next(cycle)
    return update


def benchmark_updates(budget_s: float = 0.05) -> dict[str, float]:
    """Median milliseconds per parameter-control update, one entry per animation."""
    out = {}
    for name, (make, plan) in _plans().items():
        view = make().widget()
        view.controls["frame"].value = view.controls["frame"].max
        times = interleaved({k: _updater(view, k, v) for k, v in plan.items()},
                            budget_s=budget_s, min_rounds=3, max_rounds=10)
        out[name] = 1000 * statistics.median(t for ts in times.values() for t in ts)
    return out


if __name__ == "__main__":
    for k, v in benchmark_updates().items():
        print(f"{k:22s} {v:7.2f} ms  ({'ok' if v <= UPDATE_BUDGET_MS else 'OVER BUDGET'})")
