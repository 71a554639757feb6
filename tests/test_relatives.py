"""The small-batch experiment: its network, its validation and its headline result."""
import types

import numpy as np
import pytest

from bnlib import BatchNorm
from bnlib.experiments.models import mlp
from bnlib.experiments.relatives import NORMS, small_batch
from bnlib.norms import GroupNorm, LayerNorm


def toy_data(n_train=64, n_test=40, seed=0):
    """Two separable classes in 784 dimensions: enough to run the loop, fast."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 2, n)
        x = rng.normal(size=(n, 784)).astype(np.float32) * 0.3
        x[:, 0] += np.where(y == 1, 2.0, -2.0)
        return x, y.astype(np.int64)

    (xa, ya), (xb, yb) = split(n_train), split(n_test)
    return types.SimpleNamespace(x_train=xa, y_train=ya, x_test=xb, y_test=yb)


@pytest.mark.parametrize("norm,kind", [("none", None), ("batch", BatchNorm), ("layer", LayerNorm),
                                       ("group", GroupNorm)])
def test_mlp_puts_the_norm_before_each_relu(norm, kind):
    net = mlp(norm=norm, activation="relu", rng=np.random.default_rng(0))
    names = [type(layer).__name__ for layer in net]
    if kind is None:
        assert names == ["Linear", "ReLU"] * 3 + ["Linear"]
    else:
        assert names == ["Linear", kind.__name__, "ReLU"] * 3 + ["Linear"]
    assert net.forward(np.zeros((3, 784))).shape == (3, 10)


def test_per_example_norms_give_each_example_the_same_output_in_any_batch():
    x = np.random.default_rng(1).normal(size=(6, 784))
    for norm in ("layer", "group"):
        net = mlp(norm=norm, activation="relu", rng=np.random.default_rng(0))
        np.testing.assert_allclose(net.forward(x)[:1], net.forward(x[:1]), rtol=1e-5, atol=1e-6)
    bn = mlp(bn=True, activation="relu", rng=np.random.default_rng(0))
    assert np.abs(bn.forward(x)[:2] - bn.forward(x[:2])).max() > 1e-3


def test_small_batch_shapes_and_seeding_on_toy_data():
    data = toy_data()
    kw = dict(batch_sizes=(2, 8), norms=("batch", "layer"), seeds=(0, 1), examples=32, data=data)
    r = small_batch(**kw)
    assert r.test_acc.shape == (2, 2, 2) and r.norms == ("batch", "layer")
    assert r.acc("layer").shape == (2,) and ((0 <= r.test_acc) & (r.test_acc <= 1)).all()
    np.testing.assert_array_equal(small_batch(**kw).test_acc, r.test_acc)


@pytest.mark.parametrize("kw,words", [
    (dict(norms=("batch", "weight")), "norms"),
    (dict(norms=()), "norms"),
    (dict(batch_sizes=(1, 4)), "batch_sizes"),
    (dict(batch_sizes=(2.5,)), "batch_sizes"),
    (dict(batch_sizes=(2, 128), examples=64), "examples"),
])
def test_bad_arguments_are_rejected(kw, words):
    with pytest.raises(ValueError, match=words):
        small_batch(data=toy_data(), **{"examples": 32, **kw})
    with pytest.raises(ValueError, match="norm must be one of"):
        mlp(norm="weight")
    with pytest.raises(ValueError, match="bn=True"):
        mlp(norm="layer", bn=True)
    assert set(NORMS) == {"none", "batch", "layer", "group"}


def test_batch_norm_fails_at_batch_two_and_layer_and_group_norm_do_not():
    # the claim the chapter makes, on real data (about 3 s)
    r = small_batch(batch_sizes=(2, 32), examples=2000)
    bn, ln, gn = r.acc("batch"), r.acc("layer"), r.acc("group")
    assert bn[0] < 0.4 and bn[0] + 0.2 < min(ln[0], gn[0]), (bn, ln, gn)
    assert bn[1] > 0.6, bn


def test_small_batch_scores_on_the_first_n_test_images():
    data = toy_data()
    kw = dict(batch_sizes=(8,), norms=("layer",), examples=32, data=data)
    full, part = small_batch(**kw), small_batch(n_test=10, **kw)
    net_acc = part.test_acc[0, 0, 0]
    assert net_acc * 10 == pytest.approx(round(net_acc * 10))          # a multiple of 1/10
    assert full.test_acc.shape == part.test_acc.shape
    with pytest.raises(ValueError, match="n_test"):
        small_batch(n_test=0, **kw)
