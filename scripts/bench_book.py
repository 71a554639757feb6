"""The book's time and memory budgets, measured (called by scripts/bench.py).

* each notebook executed in a fresh kernel: wall time and the kernel's peak
  resident memory (the runner is a fresh process whose only big child is the
  kernel, so ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the kernel has
  exited is the kernel's peak);
* a cold book build into a new temporary --path-output (no jupyter-cache, so
  every notebook executes), then a warm rebuild of the same folder;
* the live widgets' control-update latency (``bench_widgets.benchmark_updates``);
* the total ``make test`` time.

    python scripts/bench_book.py --run-notebook book/02_forward.ipynb   # one notebook, JSON out
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import md_table, verdict
from bench_widgets import UPDATE_BUDGET_MS as WIDGET_MS

NOTEBOOK_S, NOTEBOOK_MIB = 30.0, 1024.0
COLD_S, WARM_S, TEST_S = 240.0, 30.0, 600.0


def maxrss_mib(ru_maxrss: int, platform: str = sys.platform) -> float:
    """ru_maxrss in MiB: Linux reports KiB, macOS bytes."""
    return ru_maxrss / (2**20 if platform == "darwin" else 2**10)


def find_notebooks(root: Path, names=None) -> list[Path]:
    """book/*.ipynb (sorted), or the given paths; checkpoints are skipped."""
    if names:
        return [Path(n).resolve() for n in names]
    return sorted(p for p in (root / "book").glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def run_notebook(path: Path, timeout: int = 600) -> dict:
    """Execute one notebook in a fresh kernel (in this process); time and kernel peak memory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as exc:           # report, do not stop the other notebooks
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120] if str(exc).strip() else ''}"
    seconds = time.perf_counter() - t0
    peak = maxrss_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"notebook": path.name, "seconds": seconds, "peak_mib": peak, "error": error}


def time_notebook(path: Path) -> dict:
    """Run :func:`run_notebook` in a new process, so the peak memory is this notebook's alone."""
    proc = subprocess.run([sys.executable, __file__, "--run-notebook", str(path)],
                          capture_output=True, text=True, cwd=path.parent)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"notebook": path.name, "seconds": float("nan"), "peak_mib": float("nan"),
                "error": (proc.stderr.strip().splitlines() or ["runner failed"])[-1][:120]}


def timed(cmd, cwd: Path, env=None, log: Path | None = None) -> tuple[float, int, str]:
    """Run a command; (seconds, exit status, last line of its output); the output goes to ``log``."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    return seconds, proc.returncode, tail[-1][:160] if tail else ""


def executed_notebooks(build_log: str) -> list[str]:
    """Notebooks a jupyter-book build executed (myst-nb logs one line each; cache hits log none).

    A notebook that failed is never cached, so it runs again on every build.
    """
    names = []
    for line in build_log.splitlines():
        if "Executing notebook using" in line:
            names.append(Path(line.split(":")[0].strip()).name or line.strip())
    return names


def widget_latency() -> dict | None:
    """{animation: median ms per control update}, or None where ipywidgets is not installed."""
    try:
        import bench_widgets
        return bench_widgets.benchmark_updates()
    except ImportError:
        return None


def budgets(root: Path, notebooks=None, build=True, test=True, test_dir=None) -> str:
    """Measure every budget; return the markdown section (also printed as it goes)."""
    log_dir = root / "_build" / "bench"
    lines = ["## Book budgets", ""]
    rows = []
    for nb in find_notebooks(root, notebooks):
        r = time_notebook(nb)
        rows.append([r["notebook"], f"{r['seconds']:.1f}", verdict(r["seconds"], NOTEBOOK_S),
                     f"{r['peak_mib']:.0f}", verdict(r["peak_mib"], NOTEBOOK_MIB),
                     f"failed: {r['error']}" if r["error"] else "ran"])
        print(f"  {' '.join(rows[-1][:5])} {rows[-1][5]}", file=sys.stderr, flush=True)
    lines += [f"**Notebooks** (fresh kernel each; targets <= {NOTEBOOK_S:.0f} s and "
              f"<= {NOTEBOOK_MIB:.0f} MiB)", "",
              md_table(["notebook", "seconds", "time", "peak MiB", "memory", "execution"], rows)
              if rows else "no notebooks found", ""]

    other = []
    if build:
        jb = str(Path(sys.executable).with_name("jupyter-book"))
        out = Path(tempfile.mkdtemp(prefix="bnlib-bench-build-"))
        try:
            for label, limit in (("cold book build (new --path-output, no cache)", COLD_S),
                                 ("warm rebuild (nothing changed)", WARM_S)):
                log = log_dir / f"build-{label.split()[0]}.log"
                s, rc, tail = timed([jb, "build", str(root), "--path-output", str(out)], root, log=log)
                ran = executed_notebooks(log.read_text())
                other.append([f"{label}; executed {len(ran)} notebooks"
                              + (f" ({', '.join(ran)})" if 0 < len(ran) < 6 else "") + f"; log {log}",
                              f"{s:.1f} s", f"<= {limit:.0f} s",
                              verdict(s, limit) if rc == 0 else f"MISS (exit {rc}: {tail})"])
                print(f"  {' '.join(other[-1])}", file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    else:
        other.append(["book builds", "skipped (--skip-build)", "", ""])

    lat = widget_latency()
    if lat is None:
        other.append(["widget control update", "widgets not available", f"<= {WIDGET_MS:.0f} ms", ""])
    for name, ms in (lat or {}).items():
        other.append([f"widget control update: {name}", f"{ms:.1f} ms", f"<= {WIDGET_MS:.0f} ms",
                      verdict(ms, WIDGET_MS)])

    if test:    # last: it takes minutes
        env = dict(os.environ)
        s, rc, tail = timed(["make", "--no-print-directory", "test"], Path(test_dir or root), env,
                            log=log_dir / "make-test.log")
        other.append([f"make test ({test_dir or root})", f"{s:.0f} s", f"<= {TEST_S:.0f} s",
                      verdict(s, TEST_S) if rc == 0 else f"MISS (exit {rc}: {tail})"])
    else:
        other.append(["make test", "skipped (--skip-test)", f"<= {TEST_S:.0f} s", ""])
    lines += ["**Build, widgets and tests** (2-core machine)", "",
              md_table(["what", "measured", "target", "verdict"], other)]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run-notebook":
        print(json.dumps(run_notebook(Path(sys.argv[2]).resolve())))
    else:
        sys.exit("usage: bench_book.py --run-notebook NOTEBOOK (the budgets run from scripts/bench.py)")
