"""Input validation shared by the functional code and the layer.

Every public entry point calls these before touching any state, so a rejected
call raises a clear error and leaves nothing half-updated.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_float_array", "check_batch", "raise_not_finite", "check_param", "check_eps", "check_dout",
           "check_int", "per_channel"]


def as_float_array(a, name: str) -> np.ndarray:
    """Return ``a`` as a floating-point array; integers become float64.

    Floating input keeps its dtype (float32 in, float32 out). Booleans,
    complex numbers, strings and objects are rejected with a TypeError.
    """
    arr = np.asarray(a)
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "iu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must hold real numbers (a float or int array); got dtype {arr.dtype}"
    )


def check_batch(x, *, training: bool, num_features: int | None = None,
                ndims: tuple[int, ...] = (2, 4), finite: bool = True) -> np.ndarray:
    """Validate a batch: shape (N, D) or (N, C, H, W), finite values in training.

    In training mode every channel needs at least two values, otherwise its
    variance is zero by construction and the normalized output is meaningless.
    ``finite=False`` leaves the NaN/inf test to the caller (the compact forward
    tests the batch mean instead, which saves a pass over the data).
    """
    x = as_float_array(x, "x")
    if x.ndim not in ndims:
        expected = " or ".join({2: "2-D (N, D)", 4: "4-D (N, C, H, W)"}[d] for d in ndims)
        raise ValueError(f"x must be {expected}; got {x.ndim}-D input of shape {x.shape}")
    if num_features is not None and x.shape[1] != num_features:
        raise ValueError(
            f"x has {x.shape[1]} features (axis 1 of shape {x.shape}) "
            f"but the layer expects num_features={num_features}"
        )
    if training:
        per_channel = x.size // max(x.shape[1], 1)
        if per_channel < 2:
            raise ValueError(
                f"a training batch needs more than one value per channel to estimate a "
                f"variance; got shape {x.shape} ({per_channel} value per channel). "
                f"Use a larger batch, or call .eval() to normalize with running statistics"
            )
        if finite and not np.isfinite(x).all():
            raise_not_finite()
    return x


def raise_not_finite():
    raise ValueError("x contains NaN or inf (or values so large their sum overflows); "
                     "a training batch must be finite")


def check_param(p, name: str, num_features: int) -> np.ndarray:
    """Validate gamma or beta: a real 1-D array of length ``num_features``."""
    p = as_float_array(p, name)
    if p.shape != (num_features,):
        raise ValueError(
            f"{name} must have shape ({num_features},), one value per feature; got shape {p.shape}"
        )
    return p


def check_eps(eps, allow_zero: bool = False) -> float:
    """Validate eps: a finite real number > 0 (or >= 0 where ``allow_zero``).

    Only the by-hand walks and the reference functions allow 0; they then
    reject a feature whose variance is 0 themselves.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a positive real number; got {type(eps).__name__}")
    if not np.isfinite(eps) or eps < 0 or (eps == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0 (it keeps the square root away from 0)"
        raise ValueError(f"eps must be a finite number {bound}; got {eps}")
    return float(eps)


def check_dout(dout, shape: tuple[int, ...]) -> np.ndarray:
    """Validate an upstream gradient: real, same shape as the forward output."""
    dout = as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(
            f"dout must have the shape of the forward output {tuple(shape)}; got {dout.shape}"
        )
    return dout


def check_int(value, name: str, minimum: int = 1) -> int:
    """Validate an integer argument (not a bool) that must be at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector so it broadcasts against an (N, C) or (N, C, H, W) batch."""
    return v if ndim == 2 else v.reshape((1, -1) + (1,) * (ndim - 2))
