"""The oracle behind most gradient tests (bnlib.gradcheck), checked against known derivatives.

If centred differences were wrong, every test that trusts them would be wrong too,
so they get closed-form oracles of their own.
"""
import numpy as np
import pytest

from bnlib.gradcheck import check_gradients, numerical_gradient, numerical_gradients, rel_error

rng = np.random.default_rng(0)


def test_known_derivatives_of_elementwise_functions():
    x = rng.normal(size=(3, 4))
    dout = rng.normal(size=(3, 4))
    # d/dx sum(sin(x) * dout) = cos(x) * dout; error of centred differences is O(h^2)
    assert rel_error(numerical_gradient(np.sin, x, dout), np.cos(x) * dout) < 1e-9
    assert rel_error(numerical_gradient(lambda a: a ** 3, x, dout), 3 * x ** 2 * dout) < 1e-9


def test_known_gradients_of_a_matrix_product_with_respect_to_both_inputs():
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    dout = rng.normal(size=(4, 5))
    da, db = numerical_gradients(lambda p, q: p @ q, [a, b], dout)
    assert rel_error(da, dout @ b.T) < 1e-9 and rel_error(db, a.T @ dout) < 1e-9


def test_a_scalar_valued_function_and_integer_input():
    x = np.arange(5)                          # ints: differentiated in float64
    g = numerical_gradient(lambda a: np.sum(a ** 2), x, 1.0)
    np.testing.assert_allclose(g, 2 * x, atol=1e-6)


def test_inputs_are_never_changed():
    x = rng.normal(size=6)
    before = x.copy()
    numerical_gradient(np.exp, x, np.ones(6))
    check_gradients(lambda v: (v * 2, None), lambda d, c: (2 * d,), {"v": x})
    np.testing.assert_array_equal(x, before)


def test_rel_error_is_scale_free_and_ignores_noise_on_near_zero_entries():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(1e6 * a, 1e6 * (a + 1e-3)) == pytest.approx(rel_error(a, a + 1e-3))
    # an entry that should be 0 but carries 1e-11 of round-off: small against the arrays' scale
    assert rel_error(np.array([1.0, 0.0]), np.array([1.0, 1e-11])) < 1e-10
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0 and rel_error(np.zeros(0), np.zeros(0)) == 0.0


def test_rel_error_rejects_arrays_of_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


def test_check_gradients_passes_a_right_backward_and_fails_a_slightly_wrong_one():
    x = {"v": rng.normal(size=(4, 2))}
    right = check_gradients(lambda v: (np.tanh(v), v), lambda d, v: (d * (1 - np.tanh(v) ** 2),), x)
    wrong = check_gradients(lambda v: (np.tanh(v), v), lambda d, v: (d * (1 - np.tanh(v) ** 2) * 1.001,), x)
    assert right.passed and right.worst < 1e-9
    assert not wrong.passed and wrong.worst > 1e-4
    assert "FAILED" in repr(wrong)


def test_check_gradients_rejects_a_missing_gradient_instead_of_passing_it():
    inputs = {"a": rng.normal(size=3), "b": rng.normal(size=3)}
    with pytest.raises(ValueError, match="one per input"):
        check_gradients(lambda a, b: (a * b, (a, b)), lambda d, c: (d * c[1],), inputs)
