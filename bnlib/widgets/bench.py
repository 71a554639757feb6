"""How fast the live views redraw: the median time of a parameter-control update.

An update is what happens when a learner moves a slider in Jupyter: the
ipywidgets observer recomputes the numbers for the new value and redraws the
frame on show. Only parameter controls are timed (moving the frame slider
alone is cheaper still), so the figure is the honest, slower one.
"""
from __future__ import annotations

import statistics
import time

__all__ = ["benchmark_updates", "UPDATE_BUDGET_MS"]

UPDATE_BUDGET_MS = 50.0
"""Target: median control-update render time, in milliseconds."""


def _plans():
    from .distributions import distributions, synthetic_result
    from .gradient_flow import gradient_flow
    from .train_eval import train_eval_gap
    from .transform import transform_playground

    return {
        "gradient_flow": (gradient_flow, {
            "gamma": [0.5, 2.0, -1.0, 1.5], "eps": [1e-3, 1e-1, 1.0, 1e-5], "N": [8, 16, 32, 4],
            "D": [4, 8, 2, 3], "upstream": ["uniform", "one entry", "random"], "beta": [1.0, 0.0]}),
        "distributions": (lambda: distributions(synthetic_result()), {
            "bins": [20, 40, 60, 30], "xlim": [6.0, 10.0, 0.0]}),
        "transform_playground": (transform_playground, {
            "gamma": [0.5, 2.0, 3.0], "beta": [1.0, -1.0], "eps": [1e-2, 1.0, 1e-5],
            "N": [16, 256, 1024, 64], "mean": [0.0, -2.0], "scale": [0.5, 3.0]}),
        "train_eval_gap": (train_eval_gap, {
            "momentum": [0.05, 0.3, 0.1], "steps": [50, 200, 100], "train_batch": [8, 128, 32],
            "mean": [0.0, 3.0], "scale": [1.0, 2.0]}),
    }


def benchmark_updates(repeats: int = 1, frame: int = -1) -> dict[str, float]:
    """Median milliseconds per parameter-control update, one entry per animation.

    Each animation's live widget is built (ipywidgets, no kernel needed), set to
    ``frame`` (default: the last), warmed up once, then every control in its plan
    is set to each listed value in turn, ``repeats`` times.
    """
    out = {}
    for name, (make, plan) in _plans().items():
        box = make().widget()
        ctl = box.controls
        ctl["frame"].value = ctl["frame"].max if frame < 0 else frame
        times = []
        for _ in range(repeats):
            for key, values in plan.items():
                for v in values:
                    box.animation._cache.clear()     # time a real recompute, never a cache hit
                    t0 = time.perf_counter()
                    ctl[key].value = v
                    times.append((time.perf_counter() - t0) * 1000)
        out[name] = statistics.median(times)
    return out


if __name__ == "__main__":
    for k, v in benchmark_updates(repeats=2).items():
        print(f"{k:22s} {v:7.2f} ms  ({'ok' if v <= UPDATE_BUDGET_MS else 'OVER BUDGET'})")
