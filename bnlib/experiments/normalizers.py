r"""Why transformers normalize per token: batch statistics of padded sequences, measured.

A batch of B sentences of different lengths is stored as one array (B, T, D),
every sentence padded with zero vectors to the longest length T; a mask (B, T)
marks the real tokens. Batch norm in a transformer would take each feature's
mean and variance over all B·T positions :cite:p:`shen2020powernorm`; layer norm
and RMSNorm take them over the D features of one token :cite:p:`ba2016layer,zhang2019root`.

* :func:`token_batch` draws such a batch (seeded, each sentence from its own stream,
  so the same sentence can be placed among different companions);
* :func:`normalize_tokens` applies one normalization to it;
* :func:`padding_sweep` measures how a sentence's outputs move when only the amount
  of padding changes, :func:`companion_change` when its companions change, and
  :func:`decode_one` what is left at decoding time, when the batch is one token.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batchnorm import BatchNorm, batchnorm_forward
from ..norms import layernorm_forward, rmsnorm_forward
from ._common import as_tuple, get_data
from .models import mlp
from .training import train

__all__ = ["TOKEN_NORMS", "token_batch", "normalize_tokens", "padding_sweep", "PaddingSweep",
           "companion_change", "decode_one", "DecodeResult", "WS_VARIANTS", "WSResult", "ws_comparison"]

TOKEN_NORMS = {"batch": "BatchNorm over all positions", "masked": "BatchNorm over real tokens",
               "layer": "LayerNorm", "rms": "RMSNorm"}
"""The normalizations :func:`normalize_tokens` knows, with labels for plots."""


def _sentence(length: int, d_model: int, seed: int, index: int) -> np.ndarray:
    # a feature-specific offset and scale (shared by all sentences: the same "embedding
    # space") plus token noise drawn from the sentence's own stream
    base = np.random.default_rng([seed, 0])
    offset, scale = base.normal(0.0, 1.0, d_model), base.uniform(0.5, 2.0, d_model)
    return offset + scale * np.random.default_rng([seed, 1, index]).standard_normal((length, d_model))


def token_batch(lengths, d_model: int = 16, seed: int = 0, pad_to: int | None = None, first: int = 0):
    """A padded batch ``(x, mask)``: x (B, T, D) float64 with zero padding, mask (B, T) bool.

    Sentence ``b`` has ``lengths[b]`` tokens drawn from stream ``first + b``; ``pad_to``
    (default: the longest length) sets T.
    """
    lengths = [int(n) for n in lengths]
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be a non-empty list of positive ints; got {lengths!r}")
    t = max(lengths) if pad_to is None else int(pad_to)
    if t < max(lengths):
        raise ValueError(f"pad_to={t} is shorter than the longest sentence ({max(lengths)})")
    x, mask = np.zeros((len(lengths), t, d_model)), np.zeros((len(lengths), t), dtype=bool)
    for b, n in enumerate(lengths):
        x[b, :n] = _sentence(n, d_model, seed, first + b)
        mask[b, :n] = True
    return x, mask


def normalize_tokens(x, mask, norm: str) -> np.ndarray:
    """Normalize every token of ``x`` (B, T, D) with ``norm`` (a key of ``TOKEN_NORMS``), gamma 1, beta 0.

    "batch": statistics per feature over all B·T positions, padding included;
    "masked": over the real tokens only (padding positions are returned as 0).
    """
    x, mask = np.asarray(x, dtype=np.float64), np.asarray(mask, dtype=bool)
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise ValueError(f"need x (B, T, D) and mask (B, T); got {x.shape} and {mask.shape}")
    if norm not in TOKEN_NORMS:
        raise ValueError(f"norm must be one of {sorted(TOKEN_NORMS)}; got {norm!r}")
    d = x.shape[2]
    ones, zeros = np.ones(d), np.zeros(d)
    if norm == "rms":
        return rmsnorm_forward(x, ones)[0]
    if norm == "masked":
        out = np.zeros_like(x)
        out[mask] = batchnorm_forward(x[mask], ones, zeros)[0]
        return out
    fn = batchnorm_forward if norm == "batch" else layernorm_forward
    return fn(x.reshape(-1, d), ones, zeros)[0].reshape(x.shape)


@dataclass(frozen=True)
class PaddingSweep:
    """Sentence 0's largest output change (against the tightest padding) as padding grows.

    ``pad_share`` (P,): share of padding positions in the batch; ``change[norm]`` (P,).
    """

    pad_to: np.ndarray
    pad_share: np.ndarray
    change: dict


def padding_sweep(lengths=(12, 7, 4, 2), pad_to=(12, 16, 24, 36, 48), d_model=16, seed=0,
                  norms=tuple(TOKEN_NORMS)) -> PaddingSweep:
    """Same sentences, padded to longer and longer T (as when a long sentence joins the batch)."""
    outs, shares = [], []
    for t in pad_to:
        x, mask = token_batch(lengths, d_model, seed, pad_to=t)
        shares.append(1.0 - mask.mean())
        outs.append({n: normalize_tokens(x, mask, n)[0, :lengths[0]] for n in norms})
    change = {n: np.array([np.abs(o[n] - outs[0][n]).max() for o in outs]) for n in norms}
    return PaddingSweep(np.array(pad_to), np.array(shares), change)


def companion_change(lengths=(12, 7, 4, 2), d_model=16, seed=0, draws=20, norms=tuple(TOKEN_NORMS)) -> dict:
    """Largest change of sentence 0's outputs over ``draws`` batches with new companions of the same lengths.

    Returns {norm: float}. The padding is identical in every draw; only the other
    sentences' tokens differ.
    """
    x0, mask = token_batch(lengths, d_model, seed)
    ref = {n: normalize_tokens(x0, mask, n)[0] for n in norms}
    worst = dict.fromkeys(norms, 0.0)
    for k in range(1, draws + 1):
        x, _ = token_batch(lengths, d_model, seed, first=1000 * k)
        x[0] = x0[0]                                  # sentence 0 itself stays the same
        for n in norms:
            worst[n] = max(worst[n], float(np.abs(normalize_tokens(x, mask, n)[0] - ref[n]).max()))
    return worst


@dataclass(frozen=True)
class DecodeResult:
    """Decoding one token at a time.

    ``bn_error``: the message BatchNorm gives for a training-mode batch of one token;
    ``bn_eval_vs_train``: largest difference between a token's eval-mode BN output (running
    statistics from padded training batches) and its training-mode output in its batch;
    ``ln_alone_vs_batch`` and ``rms_alone_vs_batch``: the same for layer norm and RMSNorm
    (the token alone against the token in its batch); ``running_mean_shift``: the largest
    distance between the running mean and the mean of the real tokens, in units of the
    real tokens' standard deviation.
    """

    bn_error: str
    bn_eval_vs_train: float
    ln_alone_vs_batch: float
    rms_alone_vs_batch: float
    running_mean_shift: float


def decode_one(lengths=(12, 7, 4, 2), d_model=16, seed=0, train_batches=50) -> DecodeResult:
    """Train-mode BN over ``train_batches`` padded batches, then decode the last token of sentence 0 alone."""
    bn = BatchNorm(d_model)
    real = []
    for k in range(train_batches):
        x, mask = token_batch(lengths, d_model, seed, first=10 * k)
        bn.forward(x.reshape(-1, d_model))
        real.append(x[mask])
    real = np.concatenate(real)
    x, mask = token_batch(lengths, d_model, seed)
    token = x[0, lengths[0] - 1][None, :]                      # (1, D): a batch of one
    in_batch = bn.forward(x.reshape(-1, d_model))[lengths[0] - 1]
    try:
        BatchNorm(d_model).forward(token)
        message = ""
    except ValueError as err:
        message = str(err)
    alone = bn.eval().forward(token)[0]
    ones = np.ones(d_model)
    ln = abs(layernorm_forward(token, ones, np.zeros(d_model))[0][0]
             - normalize_tokens(x, mask, "layer")[0, lengths[0] - 1]).max()
    rms = abs(rmsnorm_forward(token, ones)[0][0] - normalize_tokens(x, mask, "rms")[0, lengths[0] - 1]).max()
    shift = np.abs(bn.running_mean - real.mean(axis=0)) / real.std(axis=0)
    return DecodeResult(message, float(np.abs(alone - in_batch).max()), float(ln), float(rms),
                        float(shift.max()))


WS_VARIANTS = {"group": ("group", False), "group+ws": ("group", True), "batch": ("batch", False)}
"""name -> (the ``norm`` of :func:`bnlib.experiments.mlp`, weight standardization?)."""


@dataclass(frozen=True)
class WSResult:
    """Test accuracy (eval mode) ``acc`` (len(variants), len(batch_sizes), len(seeds))."""

    variants: tuple
    batch_sizes: np.ndarray
    seeds: tuple
    acc: np.ndarray

    def mean(self, variant: str) -> np.ndarray:
        """Mean over seeds, one value per batch size."""
        return self.acc[self.variants.index(variant)].mean(axis=1)


def ws_comparison(batch_sizes=(4, 32), variants=tuple(WS_VARIANTS), seeds=(0, 1, 2), examples=2000,
                  lr=0.1, n_test=2000, data=None) -> WSResult:
    """Group norm with and without weight standardization, and batch norm, on Fashion-MNIST.

    The protocol of :func:`bnlib.experiments.renorm_comparison`: one pass
    over ``examples`` images with plain SGD at ``lr``; the same seed gives every variant
    the same initial weights and example order.
    """
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    bad = [v for v in variants if v not in WS_VARIANTS]
    if bad or not variants:
        raise ValueError(f"variants must be a non-empty subset of {sorted(WS_VARIANTS)}; got {variants!r}")
    x_tr, y_tr, x_te, y_te = get_data(data)
    if min(sizes) < 2 or max(sizes) > examples:
        raise ValueError(f"batch sizes must lie between 2 and examples={examples}; got {sizes}")
    subset = (x_tr[:examples], y_tr[:examples], x_te[:n_test], y_te[:n_test])
    acc = np.zeros((len(variants), len(sizes), len(seeds)))
    for i, v in enumerate(variants):
        norm, ws = WS_VARIANTS[v]
        for j, b in enumerate(sizes):
            for k, seed in enumerate(seeds):
                steps = examples // b
                acc[i, j, k] = train(mlp(norm=norm, activation="relu", seed=seed, standardize=ws), subset, steps=steps, lr=lr,
                                     batch_size=b, eval_every=steps, n_eval=n_test, seed=seed).final_acc
    return WSResult(tuple(variants), np.array(sizes), tuple(seeds), acc)
