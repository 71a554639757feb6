"""Smoke tests of scripts/bench.py and scripts/bench_book.py: their pure helpers and plumbing.

No timing value is asserted (the machine's load decides those); only shapes,
formulas and that errors are reported rather than raised.
"""
import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
bench = importlib.import_module("bench")
bench_book = importlib.import_module("bench_book")
common = importlib.import_module("bench_common")
bench_widgets = importlib.import_module("bench_widgets")


def test_geomean_is_the_nth_root_of_the_product_and_skips_missing_values():
    assert common.geomean([1.0, 4.0]) == pytest.approx(2.0)
    assert common.geomean([2.0, 8.0, None, float("nan"), 0.0]) == pytest.approx(4.0)
    assert math.isnan(common.geomean([]))


@pytest.mark.parametrize("value, limit, expected", [(1.0, 1.0, "PASS"), (0.5, 1.0, "PASS"),
                                                    (1.01, 1.0, "MISS"), (None, 1.0, "MISS"),
                                                    (float("nan"), 1.0, "MISS")])
def test_verdict(value, limit, expected):
    assert common.verdict(value, limit) == expected


def test_md_table_has_header_separator_and_one_line_per_row():
    text = common.md_table(["a", "b"], [[1, None], ["x", 2.5]])
    lines = text.splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "|---|---|"
    assert lines[2] == "| 1 | – |" and lines[3] == "| x | 2.5 |"


def test_summaries_ratios_and_bytes():
    assert common.summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0}
    assert common.best_ratio([2.0, 4.0, 9.0], [3.0, 1.0, 5.0]) == 2.0
    assert bench.compulsory_bytes(10) == 60


def test_contenders_without_torch_compute_the_same_gradients():
    fns, nbytes = bench.contenders("functional", (8, 3), np.float32, None)
    assert set(fns) == {"reference", "fast path", "staged", "copyto"} and nbytes == 8 * 3 * 4
    staged = fns["staged"]()
    for name in ("reference", "fast path"):
        for got, want in zip(fns[name](), staged):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_speed_section_reports_missing_torch(monkeypatch):
    monkeypatch.setattr(bench, "CASES", [("functional", (6, 4)), ("layer", (4, 3, 2, 2))])
    text, mean = bench.speed(quick=True, torch=None)
    assert "not installed" in text and mean is None
    assert text.count("\n| ") >= 1 + 4          # header + 2 cases x 2 dtypes


def test_maxrss_units():
    assert bench_book.maxrss_mib(2048, "linux") == 2.0
    assert bench_book.maxrss_mib(2 * 2**20, "darwin") == 2.0


def test_find_notebooks_lists_book_notebooks_sorted(tmp_path):
    (tmp_path / "book" / ".ipynb_checkpoints").mkdir(parents=True)
    for name in ("b.ipynb", "a.ipynb", "c.md", ".ipynb_checkpoints/a-checkpoint.ipynb"):
        (tmp_path / "book" / name).write_text("{}")
    assert [p.name for p in bench_book.find_notebooks(tmp_path)] == ["a.ipynb", "b.ipynb"]


def test_widget_latency_times_one_update_per_animation():
    ms = bench_widgets.benchmark_updates(budget_s=0.001)
    assert set(ms) == {"gradient_flow", "distributions", "transform_playground", "train_eval_gap"}
    assert all(v > 0 for v in ms.values())


def test_a_timed_widget_update_really_changes_the_control_and_recomputes():
    from bnlib.widgets import gradient_flow
    view = gradient_flow().widget()
    update = bench_widgets._updater(view, "gamma", [0.5, 2.0])
    update()
    assert view.controls["gamma"].value == 0.5 and view.animation.values["gamma"] == 0.5
    update()
    assert view.animation.values["gamma"] == 2.0


def _notebook(path, *sources):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_a_notebook_is_run_in_a_fresh_process_with_time_and_peak_memory(tmp_path):
    nb = _notebook(tmp_path / "ok.ipynb", "x = sum(range(10))", "assert x == 45")
    r = bench_book.time_notebook(nb)
    assert r["notebook"] == "ok.ipynb" and r["error"] is None
    assert r["seconds"] > 0 and r["peak_mib"] > 10      # a kernel is tens of MiB at least


def test_a_failing_notebook_is_reported_not_raised(tmp_path, monkeypatch):
    import nbclient

    class Failing:
        def __init__(self, *a, **k):
            pass

        def execute(self):
            raise RuntimeError("cell 3 raised ValueError")
    monkeypatch.setattr(nbclient, "NotebookClient", Failing)
    r = bench_book.run_notebook(_notebook(tmp_path / "bad.ipynb", "1"))
    assert "RuntimeError" in r["error"] and "cell 3" in r["error"]
    json.dumps(r)                                       # what the runner prints must be JSON


def test_executed_notebooks_are_read_from_the_build_log():
    log = ("/repo/book/02_forward.ipynb: Executing notebook using local CWD [mystnb]\n"
           "/repo/book/02_forward.ipynb: Executed notebook in 3.10 seconds [mystnb]\n"
           "/repo/book/03_backward.ipynb: Using cached notebook: ID=2 [mystnb]\n"
           "/repo/book/instructor.ipynb: Executing notebook using local CWD [mystnb]\n")
    assert bench_book.executed_notebooks(log) == ["02_forward.ipynb", "instructor.ipynb"]
    assert bench_book.executed_notebooks("nothing ran") == []
