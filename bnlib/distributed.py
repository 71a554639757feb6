r"""Synchronized batch norm over per-device shards, in the two designs frameworks use.

A global batch is split into shards, one per device: ``shards[k]`` is (N_k, C) or (N_k, C, H, W), the
sizes N_k may differ (an empty shard is allowed). Synchronized BN normalizes every shard with the
statistics of the whole batch, :math:`m = \sum_k m_k` values per channel, so the result equals
:func:`bnlib.batchnorm.batchnorm_forward` on the concatenated shards. The devices only exchange per-channel
statistics, through two collectives of a *communicator*:

- ``all_reduce(values, tag)``: every device receives the elementwise sum of all devices' arrays;
- ``all_gather(values, tag)``: every device receives the list of all devices' 1-D arrays (their
  lengths may differ; a backend that needs equal sizes pads, as :class:`bnlib.torchdist.TorchComm` does).

``values`` is the list of this process's devices' arrays (one per shard it holds), and each returns one
result per local device. :class:`LocalComm`, the default, simulates all devices in one process;
:class:`bnlib.torchdist.TorchComm` runs the same calls as real ``torch.distributed`` collectives, one
process per device. Both log what each device sends in a :class:`Traffic`.

Designs (forward; the backward is the same for both):

- ``"pytorch"`` (``torch.nn.SyncBatchNorm``): each device computes its count :math:`m_k`, mean and
  :math:`1/\sqrt{\sigma_k^2+\epsilon}` (two passes); these :math:`2C+1` numbers are all-gathered and every
  device merges them weighted by counts (the merge of :func:`bnlib.numerics.chan_merge`, without its
  input checks, so that an overflow in a low-precision run shows as inf or NaN).
- ``"keras"`` (Keras' synchronized ``BatchNormalization``): devices all-reduce :math:`\sum x`,
  :math:`\sum x^2` and :math:`m_k`, then :math:`\sigma^2 = \overline{x^2} - \bar x^2`: one-pass moments
  of the global batch, with the one-pass cancellation of :mod:`bnlib.numerics`.
- backward: devices all-reduce :math:`\sum g` and :math:`\sum g\,(x-\mu)` per channel (:math:`g` the
  upstream gradient of ONE loss over the global batch), then
  :math:`dx = \gamma\,s\,\big(g - \tfrac1m\sum g - (x-\mu)\,s^2\,\tfrac1m\sum g(x-\mu)\big)`,
  :math:`s = 1/\sqrt{\sigma^2+\epsilon}`; :math:`d\beta = \sum g` and :math:`d\gamma = s\sum g(x-\mu)` come
  with it. (DDP averages per-device losses instead: that scales every g by 1/K.)

Precision: the local sums, the messages and the statistics use ``acc_dtype`` (default: float32 for
float16 shards, as GPU kernels accumulate half-precision data in float32; otherwise the shards' dtype);
outputs and input gradients come back in the shards' dtype.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_batch, check_dout, check_eps, check_int, check_param, per_channel
from .batchnorm import batchnorm_backward, batchnorm_forward
from .numerics import merge_unchecked, moments, rounded_sum

__all__ = ["DESIGNS", "Message", "Traffic", "LocalComm", "SyncBNCache", "sync_batchnorm_forward",
           "sync_batchnorm_backward", "sync_running_update", "GhostCache", "ghost_batchnorm_forward",
           "ghost_batchnorm_backward"]

DESIGNS = ("pytorch", "keras")
"""The two designs of synchronized batch norm (see the module docstring)."""


class Message(NamedTuple):
    """One collective call as one device saw it: what it sent and to how many devices."""

    op: str          # "all_reduce" or "all_gather"
    tag: str         # what the numbers are
    values: int      # numbers each device contributed
    nbytes: int      # bytes each device contributed (values * itemsize)
    world: int       # devices taking part

    @property
    def ring_bytes(self) -> float:
        """Bytes each device sends with the bandwidth-optimal ring algorithm.

        A ring all-reduce sends :math:`2(K-1)/K` times the message (reduce-scatter, then all-gather);
        a ring all-gather forwards the :math:`K-1` other devices' messages once each.
        """
        k = self.world
        return 2 * (k - 1) / k * self.nbytes if self.op == "all_reduce" else (k - 1) * self.nbytes


class Traffic:
    """The log of a communicator's collectives: ``messages``, and totals by tag."""

    def __init__(self):
        self.messages: list[Message] = []

    def record(self, op: str, tag: str, array: np.ndarray, world: int) -> None:
        self.messages.append(Message(op, tag, int(array.size), int(array.nbytes), int(world)))

    def by_tag(self) -> dict:
        """``{tag: bytes each device contributed}``, summed over calls, in first-seen order."""
        out: dict = {}
        for m in self.messages:
            out[m.tag] = out.get(m.tag, 0) + m.nbytes
        return out

    def total(self, ring: bool = False) -> float:
        """Bytes each device contributed over every call (``ring=True``: bytes a ring sends)."""
        return sum(m.ring_bytes if ring else m.nbytes for m in self.messages)

    def clear(self) -> None:
        self.messages.clear()

    def __repr__(self):
        return f"Traffic({len(self.messages)} messages, {self.total():.0f} bytes per device)"


class LocalComm:
    """In-process communicator: ``values[k]`` is device k's array; every device gets the same result."""

    def __init__(self):
        self.traffic = Traffic()

    def all_reduce(self, values, tag: str) -> list:
        """Elementwise sum over devices (added in device order), one copy per device."""
        values = _messages(values, "all_reduce", same_shape=True)
        total = values[0].copy()
        for v in values[1:]:
            total += v
        self.traffic.record("all_reduce", tag, values[0], len(values))
        return [total.copy() for _ in values]

    def all_gather(self, values, tag: str) -> list:
        """Every device's 1-D array, in device order; each device gets its own list of copies.

        The log counts the longest message for every device (what a padded gather sends)."""
        values = _messages(values, "all_gather", same_shape=False)
        self.traffic.record("all_gather", tag, max(values, key=np.size), len(values))
        return [[v.copy() for v in values] for _ in values]

    def __repr__(self):
        return f"LocalComm({self.traffic!r})"


def _messages(values, op, same_shape):
    """The devices' arrays, checked: a non-empty list, one dtype, equal shapes or 1-D."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{op} takes a non-empty list with one array per device; got {values!r:.80}")
    values = [np.ascontiguousarray(v) for v in values]
    shapes = [(v.shape, str(v.dtype)) for v in values]
    bad_shape = (any(v.shape != values[0].shape for v in values) if same_shape
                 else any(v.ndim != 1 for v in values))
    if bad_shape or any(v.dtype != values[0].dtype for v in values):
        want = "the same shape and dtype" if same_shape else "1-D arrays of one dtype"
        raise ValueError(f"{op}: every device must send {want}; got {shapes}")
    return values


class SyncBNCache(NamedTuple):
    """What the backward and the running update need."""

    x_mu: list              # per shard: x - mu, in acc dtype, the shard's shape
    gamma: np.ndarray       # (C,)
    inv_std: np.ndarray     # (C,) 1 / sqrt(var + eps) of the global batch
    mean: np.ndarray        # (C,) global mean
    var: np.ndarray         # (C,) global biased variance
    count: int              # m: values per channel in the global batch
    dtype: np.dtype         # the shards' dtype
    comm: object


def _check_shards(shards, acc_dtype):
    if not isinstance(shards, (list, tuple)) or len(shards) == 0:
        raise ValueError("shards must be a non-empty list of per-device batches (N_k, C) or "
                         f"(N_k, C, H, W); got {type(shards).__name__} {shards!r:.60}")
    xs = [as_float_array(x, f"shards[{k}]") for k, x in enumerate(shards)]
    first = xs[0]
    if first.ndim not in (2, 4):
        raise ValueError(f"shards[0] must be 2-D (N, C) or 4-D (N, C, H, W); got shape {first.shape}")
    for k, x in enumerate(xs[1:], start=1):
        if x.ndim != first.ndim or x.shape[1:] != first.shape[1:]:
            raise ValueError(f"shards[{k}] has shape {x.shape} but shards[0] has {first.shape}: shards "
                             f"may differ only in the batch axis (the same C channels everywhere)")
        if x.dtype != first.dtype:
            raise TypeError(f"shards[{k}] is {x.dtype} but shards[0] is {first.dtype}: every device "
                            f"must hold the same dtype")
    if not all(np.isfinite(x).all() for x in xs):
        raise ValueError("the shards contain NaN or inf; a training batch must be finite")
    acc = np.dtype(np.float32 if first.dtype == np.float16 else first.dtype) if acc_dtype is None \
        else np.dtype(acc_dtype)
    if acc.kind != "f":
        raise TypeError(f"acc_dtype must be a float dtype; got {acc}")
    return xs, first.dtype, acc


def _check_count(m: int, shapes) -> None:
    """The global batch needs at least 2 values per channel."""
    if m == 0:
        raise ValueError(f"the shards hold no values at all (shapes {shapes}): every channel needs "
                         f"values somewhere in the global batch")
    if m < 2:
        raise ValueError(f"the global batch has 1 value per channel: a variance needs at least 2 (and "
                         f"the running variance's m / (m - 1) needs m >= 2); shard shapes {shapes}")


def _values(x, acc):
    """The shard as a (values, C) matrix in acc dtype: one column per channel."""
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]).astype(acc, copy=False)


def _pytorch_stats(xs, eps, acc, comm):
    """Gather (mean, invstd, count) of every device; merge them weighted by counts."""
    local = []
    for x in xs:
        n, mean, m2 = moments(_values(x, acc), axis=0)
        inv_std = 1 / np.sqrt(m2 / n + eps) if n else np.zeros_like(mean)  # empty: zeros, as PyTorch
        local.append(np.concatenate([mean, inv_std, [n]]).astype(acc))
    c = xs[0].shape[1]
    # every device receives the same table and runs the same merge: one merge stands for all
    table = np.stack(comm.all_gather(local, "forward: mean, invstd, count")[0])     # (K, 2C+1)
    table = table[table[:, -1] >= 1]                       # devices with no values take no part
    if len(table) == 0:
        return np.zeros(c, acc), np.zeros(c, acc), 0
    means, inv_stds, counts = table[:, :c], table[:, c:2 * c], table[:, -1]
    # invstd -> var as PyTorch's gather kernel does; the round trip can leave -1 ulp below 0
    var_k = np.maximum(1 / (inv_stds * inv_stds) - eps, 0)
    n, mean, m2 = merge_unchecked(counts, means, var_k * counts[:, None])
    return mean, m2 / n, int(round(float(n[0])))


def _keras_stats(xs, acc, comm):
    """All-reduce (sum x, sum x^2, count); one-pass moments of the global batch."""
    local = []
    for x in xs:
        v = _values(x, acc)
        local.append(np.concatenate([rounded_sum(v), rounded_sum(v * v), [v.shape[0]]]).astype(acc))
    c = xs[0].shape[1]
    total = comm.all_reduce(local, "forward: sum x, sum x^2, count")[0]
    m = total[-1]
    mean = total[:c] / m
    return mean, total[c:2 * c] / m - mean * mean, int(round(float(m)))


def sync_batchnorm_forward(shards, gamma, beta, eps=1e-5, design="pytorch", comm=None, acc_dtype=None):
    """Synchronized BN forward: ``(outputs, SyncBNCache)``, one output per shard, in its shape and dtype.

    ``gamma``, ``beta``: (C,); ``design``: one of :data:`DESIGNS`; ``comm``: a communicator
    (default: a new :class:`LocalComm`, reachable as ``cache.comm``); ``acc_dtype``: see the module
    docstring (counts travel in it too, as in PyTorch: exact up to 2**24 in float32, 2048 in float16).
    Nothing passed in is changed.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}; got {design!r}")
    xs, dtype, acc = _check_shards(shards, acc_dtype)
    c, eps = xs[0].shape[1], check_eps(eps)
    gamma = check_param(gamma, "gamma", c).astype(acc)
    beta = check_param(beta, "beta", c).astype(acc)
    comm = LocalComm() if comm is None else comm
    shapes = [x.shape for x in xs]
    if isinstance(comm, LocalComm):     # the simulation sees every device: refuse before sending anything
        _check_count(sum(x.size for x in xs) // c, shapes)
    # a low-precision run may overflow: shown, not hidden
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean, var, m = (_pytorch_stats(xs, eps, acc, comm) if design == "pytorch"
                        else _keras_stats(xs, acc, comm))
    _check_count(m, shapes)             # a real process learns the global count from the exchange
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean, var = mean.astype(acc), var.astype(acc)
        inv_std = (1 / np.sqrt(var + eps)).astype(acc)
        outputs, x_mus = [], []
        for x in xs:
            nd = x.ndim
            x_mu = x.astype(acc) - per_channel(mean, nd)
            outputs.append((x_mu * per_channel(gamma * inv_std, nd) + per_channel(beta, nd)).astype(dtype))
            x_mus.append(x_mu)
    return outputs, SyncBNCache(x_mus, gamma, inv_std, mean, var, m, dtype, comm)


def sync_batchnorm_backward(douts, cache: SyncBNCache):
    r"""Synchronized BN backward: ``(dxs, dgamma, dbeta)``; ``douts[k]`` has shards[k]'s shape.

    One all-reduce of :math:`(\sum g, \sum g\,(x-\mu))` per channel, through ``cache.comm``.
    """
    if not isinstance(cache, SyncBNCache):
        raise TypeError(f"cache must be the SyncBNCache from sync_batchnorm_forward; got "
                        f"{type(cache).__name__}")
    x_mus, gamma, inv_std, _, _, m, dtype, comm = cache
    if not isinstance(douts, (list, tuple)) or len(douts) != len(x_mus):
        length = len(douts) if hasattr(douts, "__len__") else "?"
        raise ValueError(f"douts must be a list of {len(x_mus)} arrays, one per shard; got "
                         f"{type(douts).__name__} of length {length}")
    acc = gamma.dtype
    gs = [check_dout(g, x.shape).astype(acc, copy=False) for g, x in zip(douts, x_mus)]
    c = gamma.shape[0]
    local = [np.concatenate([rounded_sum(_values(g, acc)), rounded_sum(_values(g * x, acc))])
             for g, x in zip(gs, x_mus)]
    total = comm.all_reduce(local, "backward: sum dy, sum dy*(x-mu)")[0]
    sum_dy, sum_dy_xmu = total[:c], total[c:]
    dxs = []
    for g, x_mu in zip(gs, x_mus):
        nd = g.ndim
        dx = per_channel(gamma * inv_std, nd) * (g - per_channel(sum_dy / m, nd)
                                                 - x_mu * per_channel(inv_std ** 2 * sum_dy_xmu / m, nd))
        dxs.append(dx.astype(dtype))
    return dxs, sum_dy_xmu * inv_std, sum_dy


def sync_running_update(running_mean, running_var, cache: SyncBNCache, momentum: float = 0.1):
    r"""New ``(running_mean, running_var)`` after a synchronized step (PyTorch's convention).

    :math:`\mu_{run} \leftarrow (1-k)\mu_{run} + k\mu`, :math:`\sigma^2_{run} \leftarrow (1-k)\sigma^2_{run}
    + k\,\sigma^2 m/(m-1)`, with :math:`m` the GLOBAL count of values per channel: the variance is
    one estimate from the whole batch, so Bessel's correction uses the whole batch's size.
    Returns new arrays; the inputs are not changed.
    """
    if not isinstance(cache, SyncBNCache):
        raise TypeError(f"cache must be the SyncBNCache from sync_batchnorm_forward; got "
                        f"{type(cache).__name__}")
    c = cache.mean.shape[0]
    rm, rv = check_param(running_mean, "running_mean", c), check_param(running_var, "running_var", c)
    if isinstance(momentum, bool) or not (isinstance(momentum, numbers.Real) and 0 <= momentum <= 1):
        raise ValueError(f"momentum must be a number in [0, 1]; got {momentum!r}")
    m, k = cache.count, float(momentum)
    return (1 - k) * rm + k * cache.mean, (1 - k) * rv + k * cache.var * (m / (m - 1))


class GhostCache(NamedTuple):
    """The per-ghost-batch BNCaches and the ghost size."""

    caches: list
    ghost_size: int


def ghost_batchnorm_forward(x, gamma, beta, ghost_size, eps=1e-5):
    """Ghost batch norm: ``(y, GhostCache)``; consecutive slices of ``ghost_size`` examples along axis 0
    are each normalized with their own statistics :cite:p:`hoffer2017train`.

    ``x``: (N, C) or (N, C, H, W) with N a multiple of ``ghost_size``. ``ghost_size = N`` is plain
    batch norm; data-parallel BN without synchronization is ghost BN with the per-device batch.
    """
    x = check_batch(x, training=True)
    g = check_int(ghost_size, "ghost_size")
    if x.shape[0] % g:
        raise ValueError(f"the batch size must be a multiple of ghost_size={g}; got x of shape {x.shape}")
    parts = [batchnorm_forward(x[i:i + g], gamma, beta, eps) for i in range(0, x.shape[0], g)]
    return np.concatenate([p[0] for p in parts]), GhostCache([p[1] for p in parts], g)


def ghost_batchnorm_backward(dout, cache: GhostCache):
    """Ghost batch norm backward: ``(dx, dgamma, dbeta)``, the ghost batches' gradients side by side
    (dx) and summed (dgamma, dbeta)."""
    if not isinstance(cache, GhostCache):
        raise TypeError(f"cache must be the GhostCache from ghost_batchnorm_forward; got "
                        f"{type(cache).__name__}")
    n = cache.ghost_size * len(cache.caches)
    dout = check_dout(dout, (n,) + cache.caches[0].x_hat.shape[1:])
    grads = [batchnorm_backward(dout[i * cache.ghost_size:(i + 1) * cache.ghost_size], c)
             for i, c in enumerate(cache.caches)]
    return (np.concatenate([d[0] for d in grads]), sum(d[1] for d in grads), sum(d[2] for d in grads))
