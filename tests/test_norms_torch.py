"""Optional oracle: PyTorch's rms_norm and layer_norm, forward and backward, float64 (skipped without torch).

torch is not a requirement of the book; `.ci/run` installs the CPU build so this runs in CI.
``torch.nn.functional.rms_norm``'s eps defaults to the dtype's machine epsilon, so it is always passed.
"""
import numpy as np
import pytest

from bnlib.norms import layernorm_backward, layernorm_forward, rmsnorm_backward, rmsnorm_forward

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the parity oracle is optional "
                                            "(pip install torch==2.13.0 to run it)")
F = torch.nn.functional
TOL = 1e-10


def close(ours, theirs):
    theirs = theirs.detach().numpy()
    scale = np.abs(theirs).max() + np.abs(ours).max()
    assert np.abs(ours - theirs).max() <= TOL * scale, np.abs(ours - theirs).max() / scale


def leaves(*arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("shape,eps", [((6, 8), 1e-6), ((2, 5, 8), 1e-5), ((8,), 1e-6), ((3, 4, 8), 1e-3)])
def test_rmsnorm_matches_torch_forward_and_backward(shape, eps):
    rng = np.random.default_rng(0)
    x, gamma = rng.normal(0.7, 2.0, shape), rng.normal(1.0, 0.4, shape[-1])
    dout = rng.standard_normal(shape)
    y, cache = rmsnorm_forward(x, gamma, eps)
    dx, dgamma = rmsnorm_backward(dout, cache)
    tx, tg = leaves(x, gamma)
    ty = F.rms_norm(tx, (shape[-1],), tg, eps=eps)
    ty.backward(torch.tensor(dout))
    close(y, ty)
    close(dx, tx.grad)
    close(dgamma, tg.grad)


@pytest.mark.parametrize("shape,param_shape", [((5, 7), (7,)), ((3, 4, 2, 3), (4, 2, 3)),
                                               ((2, 3, 5, 5), (3, 5, 5))])
def test_elementwise_layernorm_matches_torch_forward_and_backward(shape, param_shape):
    # (N, C, H, W) normalized over (C, H, W) with gamma, beta of that shape: torch's normalized_shape
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.5, shape)
    gamma, beta = rng.normal(1.0, 0.3, param_shape), rng.normal(0.0, 1.0, param_shape)
    dout = rng.standard_normal(shape)
    y, cache = layernorm_forward(x, gamma, beta, eps=1e-5)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    tx, tg, tb = leaves(x, gamma, beta)
    ty = F.layer_norm(tx, param_shape, tg, tb, eps=1e-5)
    ty.backward(torch.tensor(dout))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad)):
        close(ours, theirs)


def test_per_channel_layernorm_matches_torch_with_the_channel_parameters_broadcast():
    # bnlib's (C,) convention is torch's elementwise affine with gamma repeated over (H, W)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 4))
    gamma, beta = rng.normal(1.0, 0.3, 3), rng.normal(size=3)
    dout = rng.standard_normal(x.shape)
    y, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    tx, tg, tb = leaves(x, gamma, beta)
    ty = F.layer_norm(tx, (3, 4, 4), eps=1e-5) * tg[:, None, None] + tb[:, None, None]
    ty.backward(torch.tensor(dout))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad)):
        close(ours, theirs)
