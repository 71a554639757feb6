r"""The training harness: a lean, seeded SGD loop with recorders.

:func:`mlp` (from :mod:`.models`) builds the paper's Figure-1 network
:cite:p:`ioffe2015batch`. :func:`train` runs plain SGD on
mini-batches of 60 and, every ``eval_every`` steps, measures accuracy on a
fixed test subset in eval mode (BN uses its running statistics), plus optional
recorders: statistics of every hidden layer's activation input, percentiles and
samples of one unit's input, and per-layer weight-gradient norms.

Everything is float32 and seeded: the same arguments give the same numbers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import nn
from ._threads import one_blas_thread
from .models import MLP, SATURATION, mlp

__all__ = ["mlp", "MLP", "History", "train", "evaluate", "steps_to_accuracy", "first_reach", "split_data"]


@dataclass
class History:
    """What :func:`train` measured; arrays are indexed by recorded step (length T).

    ``steps`` (T,) SGD steps done (0 = before training); ``test_acc``, ``test_loss``
    (T,) on the fixed test subset in eval mode; ``train_loss`` (T,) mean training-batch
    loss over the steps since the previous record (NaN at step 0); ``train_acc`` (T,)
    on a fixed training subset in eval mode, or None. With ``probe``: ``act_mean``,
    ``act_std``, ``act_saturated`` (T, L) over the probe batch for each of the L
    hidden layers' activation inputs; ``percentiles`` (T, 3) = 15/50/85th and
    ``samples`` (T, S) of unit ``unit`` of the last hidden layer. With
    ``record_grads``: ``grad_norms`` (T, L+1) mean Frobenius norm of each Linear
    layer's dW since the previous record. ``diverged_at``: the step at which the
    loss became non-finite (later records hold chance accuracy), else None.
    """

    steps: np.ndarray
    test_acc: np.ndarray
    test_loss: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray | None = None
    act_mean: np.ndarray | None = None
    act_std: np.ndarray | None = None
    act_saturated: np.ndarray | None = None
    percentiles: np.ndarray | None = None
    samples: np.ndarray | None = None
    grad_norms: np.ndarray | None = None
    diverged_at: int | None = None
    seconds: float = 0.0
    config: dict = field(default_factory=dict)

    @property
    def final_acc(self) -> float:
        """Test accuracy at the last recorded step."""
        return float(self.test_acc[-1])


def split_data(data):
    """``(x_train, y_train, x_test, y_test)`` from a FashionMNIST result or a 4-tuple."""
    if data is None:
        from ..data import load_fashion_mnist
        data = load_fashion_mnist()
    if hasattr(data, "x_train"):
        return data.x_train, data.y_train, data.x_test, data.y_test
    if isinstance(data, (tuple, list)) and len(data) == 4:
        return tuple(data)
    raise TypeError("data must be a FashionMNIST result, a 4-tuple (x_train, y_train, x_test, "
                    f"y_test) or None; got {type(data).__name__}")


def evaluate(model, x, y) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` of ``model`` in eval mode; restores the mode after."""
    was_training = model.training
    model.eval()
    with np.errstate(all="ignore"):
        logits = model.forward(x)
        ok = np.isfinite(logits).all()
        loss = nn.softmax_cross_entropy(logits, y)[0] if ok else float("nan")
        acc = float(np.mean(logits.argmax(axis=1) == y)) if ok else 1.0 / logits.shape[1]
    if was_training:
        model.train()
    return acc, loss


def steps_to_accuracy(history: History, target: float, *, interpolate: bool = False) -> float:
    """The first recorded step with ``test_acc >= target`` (NaN if never reached);
    with ``interpolate``, the step where the straight line between the two records
    around that first crossing reaches ``target`` (see ``first_reach``)."""
    return first_reach(history.steps, history.test_acc, target, interpolate=interpolate)


def first_reach(steps, acc, target: float, *, interpolate: bool = False) -> float:
    r"""The first of ``steps`` where ``acc >= target``, or NaN.

    A record only says that the target was reached somewhere since the previous
    record, so the recorded step rounds the answer up by up to one evaluation
    interval. With ``interpolate``, the answer is read off the straight line
    between the last record below the target, :math:`(t_0, a_0)`, and the first
    at or above it, :math:`(t_1, a_1)`:
    :math:`t_0 + (t_1 - t_0)(a^* - a_0)/(a_1 - a_0)`.
    """
    steps, acc = np.asarray(steps, dtype=float), np.asarray(acc, dtype=float)
    hit = np.nonzero(acc >= target)[0]
    if not hit.size:
        return float("nan")
    k = hit[0]
    if not interpolate or k == 0:
        return float(steps[k])
    t0, t1, a0, a1 = steps[k - 1], steps[k], acc[k - 1], acc[k]
    return float(t0 + (t1 - t0) * (target - a0) / (a1 - a0))


class _Recorder:
    """Collects the per-record rows, then stacks them into a :class:`History`."""

    def __init__(self, model, x_eval, y_eval, x_probe, x_tracc, y_tracc, unit, grads):
        self.model, self.x_eval, self.y_eval = model, x_eval, y_eval
        self.x_probe, self.x_tracc, self.y_tracc, self.unit = x_probe, x_tracc, y_tracc, unit
        self.rows: dict = {k: [] for k in ("steps", "test_acc", "test_loss", "train_loss", "train_acc",
                                           "act_mean", "act_std", "act_saturated", "percentiles",
                                           "samples", "grad_norms")}
        self.grads = grads
        self.loss_sum, self.grad_sum, self.count = 0.0, None, 0

    def after_step(self, loss):
        self.loss_sum += loss
        self.count += 1
        if self.grads:
            lin = [self.model.layers[i] for i in self.model.linear_idx]
            g = np.array([np.sqrt(np.vdot(layer.grads["W"], layer.grads["W"])) for layer in lin])
            self.grad_sum = g if self.grad_sum is None else self.grad_sum + g

    def record(self, step, diverged=False):
        r, model = self.rows, self.model
        r["steps"].append(step)
        r["train_loss"].append(self.loss_sum / self.count if self.count else np.nan)
        if self.grads:
            n = len(model.linear_idx)
            r["grad_norms"].append(self.grad_sum / self.count if self.count else np.full(n, np.nan))
        self.loss_sum, self.grad_sum, self.count = 0.0, None, 0
        chance = 1.0 / model[model.linear_idx[-1]].d_out
        acc, loss = (chance, np.nan) if diverged else evaluate(model, self.x_eval, self.y_eval)
        r["test_acc"].append(acc)
        r["test_loss"].append(loss)
        if self.x_tracc is not None:
            r["train_acc"].append(chance if diverged else evaluate(model, self.x_tracc, self.y_tracc)[0])
        if self.x_probe is not None:
            model.eval()
            with np.errstate(all="ignore"):
                _, probes = model.forward_probed(self.x_probe)
            model.train()
            z = np.stack(probes)                           # (L, S, width)
            r["act_mean"].append(z.mean(axis=(1, 2)))
            r["act_std"].append(z.std(axis=(1, 2)))
            r["act_saturated"].append(np.mean(np.abs(z) > SATURATION, axis=(1, 2)))
            u = z[-1, :, self.unit]
            r["percentiles"].append(np.percentile(u, [15, 50, 85]))
            r["samples"].append(u.copy())

    def history(self, **extra) -> History:
        out = {k: (np.asarray(v, dtype=np.float64 if k != "steps" else np.int64) if v else None)
               for k, v in self.rows.items()}
        return History(**out, **extra)


def train(model: MLP, data=None, *, steps: int = 2000, lr: float = 0.5, batch_size: int = 60,
          eval_every: int = 100, n_eval: int = 2000, probe: int = 0, unit: int = 0,
          record_grads: bool = False, n_train_eval: int = 0, seed: int = 0,
          hook=None, hook_every: int = 100) -> History:
    """Train ``model`` in place with plain SGD and return its :class:`History`.

    ``data``: a FashionMNIST result or ``(x_train, y_train, x_test, y_test)``
    (None loads Fashion-MNIST). Each epoch visits the training set in a fresh
    seeded order, ``batch_size`` examples per step. Every ``eval_every`` steps
    (and at step 0) the recorders run on fixed subsets: the first ``n_eval`` test
    examples; the first ``probe`` of them for activation statistics (0 = off); the
    first ``n_train_eval`` training examples for train accuracy (0 = off). A
    non-finite loss stops training (``diverged_at``). ``hook(step, model, x, y)``
    is called every ``hook_every`` steps after backward and before the update
    (the gradients of batch ``x, y`` are in the layers' ``grads``).
    """
    with one_blas_thread():
        return _train(model, data, steps, lr, batch_size, eval_every, n_eval, probe, unit,
                      record_grads, n_train_eval, seed, hook, hook_every)


def _train(model, data, steps, lr, batch_size, eval_every, n_eval, probe, unit, record_grads,
           n_train_eval, seed, hook, hook_every) -> History:
    x_tr, y_tr, x_te, y_te = split_data(data)
    if steps < 0 or eval_every < 1 or batch_size < 2 or n_eval < 1:
        raise ValueError(f"need steps >= 0, eval_every >= 1, batch_size >= 2, n_eval >= 1; got "
                         f"{steps}, {eval_every}, {batch_size}, {n_eval}")
    rng = np.random.default_rng([seed, 1])
    rec = _Recorder(model, x_te[:n_eval], y_te[:n_eval], x_te[:probe] if probe else None,
                    x_tr[:n_train_eval] if n_train_eval else None, y_tr[:n_train_eval],
                    unit, record_grads)
    opt, order, pos, diverged_at = nn.SGD(lr), rng.permutation(len(x_tr)), 0, None
    start = time.perf_counter()
    model.train()
    rec.record(0)
    for step in range(1, steps + 1):
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(x_tr)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                loss, dlogits = nn.softmax_cross_entropy(model.forward(x_tr[idx]), y_tr[idx])
        except ValueError:            # BN refuses a batch that already holds NaN or inf
            loss = float("nan")
        if not np.isfinite(loss):
            diverged_at = step
            break
        model.backward(dlogits)
        if hook is not None and step % hook_every == 0:
            hook(step, model, x_tr[idx], y_tr[idx])
        opt.step(model)
        rec.after_step(loss)
        if step % eval_every == 0:
            rec.record(step)
    if diverged_at is not None:    # fill the remaining records with chance level
        for s in range((diverged_at // eval_every + 1) * eval_every, steps + 1, eval_every):
            rec.record(s, diverged=True)
    config = dict(steps=steps, lr=lr, batch_size=batch_size, eval_every=eval_every, n_eval=n_eval,
                  seed=seed)
    return rec.history(diverged_at=diverged_at, seconds=time.perf_counter() - start, config=config)
