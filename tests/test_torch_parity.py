"""Optional oracle: PyTorch's batch norm (skipped, with the reason, when torch is not installed).

torch is not a requirement of the book; `.ci/run` installs the CPU build so this runs in CI.
"""
import numpy as np
import pytest

import bnlib
from conftest import torch_missing_reason

torch = pytest.importorskip("torch", reason=torch_missing_reason())


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 5)])
def test_layer_matches_torch_over_several_steps_and_in_eval(shape):
    rng = np.random.default_rng(0)
    c = shape[1]
    ours = bnlib.BatchNorm(c, eps=1e-5, momentum=0.1)
    ref = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c, eps=1e-5, momentum=0.1).double()
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    ours.gamma, ours.beta = gamma, beta
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(gamma))
        ref.bias.copy_(torch.from_numpy(beta))
    for _ in range(3):
        x = rng.normal(2.0, 3.0, shape)
        dout = rng.standard_normal(shape)
        xt = torch.from_numpy(x).requires_grad_()
        ref.weight.grad = ref.bias.grad = None
        yt = ref(xt)
        yt.backward(torch.from_numpy(dout))
        y = ours.forward(x)
        dx = ours.backward(dout)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(ours.dgamma, ref.weight.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(ours.dbeta, ref.bias.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=1e-12)
    ours.eval()
    ref.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        np.testing.assert_allclose(ours.forward(x), ref(torch.from_numpy(x)).numpy(), rtol=1e-10, atol=1e-12)


def test_compact_functions_match_torch_functional():
    rng = np.random.default_rng(1)
    x, dout = rng.normal(5.0, 0.01, (16, 4)), rng.standard_normal((16, 4))
    g, b = rng.standard_normal(4), rng.standard_normal(4)
    xt, gt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, g, b))
    yt = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    yt.backward(torch.from_numpy(dout))
    y, cache = bnlib.batchnorm_forward(x, g, b, eps=1e-5)
    for ours, theirs in zip((y,) + bnlib.batchnorm_backward(dout, cache),
                            (yt.detach(), xt.grad, gt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-8, atol=1e-10)
