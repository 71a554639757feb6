"""Shared by the tests: where the optional oracles' versions come from."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def torch_pin() -> str:
    """The PyTorch requirement the project tests with, read from constraints.txt (e.g. torch==2.13.0)."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.split("#")[0].strip().startswith("torch=="):
            return line.split("#")[0].strip()
    raise LookupError("constraints.txt pins no torch version")


def torch_missing_reason() -> str:
    """The skip reason of every test that needs PyTorch."""
    return (f"PyTorch is not installed: the parity oracle is optional "
            f"(pip install {torch_pin()} to run it; .ci/run installs it)")
