"""Small helpers shared by the claim functions (data, networks, argument checks)."""
from __future__ import annotations

import numpy as np

from .models import mlp
from .training import split_data

__all__ = ["get_data", "net_for", "CHANCE_MARGIN"]

CHANCE_MARGIN = 0.5
"""A run "trains" when its final test accuracy reaches this value (chance is 0.1)."""


def get_data(data=None, n_train: int | None = None):
    """``(x_train, y_train, x_test, y_test)``; loads Fashion-MNIST (cached in memory) when None."""
    x_tr, y_tr, x_te, y_te = split_data(data)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    return x_tr, y_tr, x_te, y_te


def net_for(data, **kw):
    """:func:`mlp` sized for ``data`` (input width and number of classes)."""
    x_tr, y_tr = data[0], data[1]
    return mlp(d_in=x_tr.shape[1], n_classes=int(max(y_tr.max(), data[3].max())) + 1, **kw)


def as_tuple(values, name: str, kind=float) -> tuple:
    """Validate a non-empty sequence of numbers (e.g. learning rates) and return a tuple."""
    try:
        out = tuple(kind(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers; got {values!r}") from None
    if not out or not all(np.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers; got {values!r}")
    return out
