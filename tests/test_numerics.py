"""bnlib.numerics: variance algorithms, rounded sums, emulated bfloat16, Chan's merge.

Oracles: numpy's float64 var/sum, the arithmetic of the formats (nearest representable number,
ties to even, computed in float64), small cases worked out by hand, and PyTorch's bfloat16 where
it is installed.
"""
import numpy as np
import pytest

from bnlib import numerics as nm


def _bf16_oracle(x):
    """Nearest bfloat16 of each float32 (ties to even), by float64 arithmetic on the exponent."""
    x = np.asarray(x, np.float32).astype(np.float64)
    out = np.empty_like(x)
    for i, v in enumerate(x):
        if v == 0 or not np.isfinite(v):
            out[i] = v
            continue
        e = max(np.floor(np.log2(abs(v))), -126.0)      # float32's subnormals keep the spacing of 2**-126
        spacing = 2.0 ** (e - 7)
        lo = np.floor(v / spacing)
        frac = v / spacing - lo
        k = lo + (1 if frac > 0.5 or (frac == 0.5 and lo % 2 == 1) else 0)
        out[i] = k * spacing
    big = (2 - 2 ** -7) * 2.0 ** 127
    return np.where(out > big, np.inf, np.where(out < -big, -np.inf, out))


def test_bfloat16_rounding_is_nearest_with_ties_to_even():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000),
                        [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3.0e-39, -1.5e-40, 3.3e38, 3.4e38,
                         0.0]])
    x = x.astype(np.float32)
    got = nm.to_bfloat16(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.astype(np.float64), _bf16_oracle(x))
    assert not np.any(got.view(np.uint32) & 0xFFFF), "a bfloat16 has no low 16 bits"
    # the ties worked by hand: 1 + 2**-8 is halfway between 1 and 1 + 2**-7 (odd): down to 1
    assert got[2000] == 1.0 and got[2001] == 1 + 2 ** -6 and got[2002] == -1.0


def test_bfloat16_specials():
    got = nm.to_bfloat16(np.array([np.inf, -np.inf, np.nan, -0.0], np.float32))
    assert got[0] == np.inf and got[1] == -np.inf and np.isnan(got[2])
    assert got[3] == 0 and np.signbit(got[3])


def test_bfloat16_matches_torch_where_installed():
    from conftest import torch_missing_reason

    torch = pytest.importorskip("torch", reason=torch_missing_reason())
    x = (np.random.default_rng(1).standard_normal(5000) * 1e3).astype(np.float32)
    theirs = torch.from_numpy(x).to(torch.bfloat16).to(torch.float32).numpy()
    np.testing.assert_array_equal(nm.to_bfloat16(x), theirs)


def test_formats_describe_the_number_formats():
    f = nm.FORMATS
    assert [f[k].fraction_bits for k in ("float64", "float32", "float16", "bfloat16")] == [52, 23, 10, 7]
    assert f["float16"].max == 65504.0 and f["float16"].spacing_at_one == 2 ** -10
    assert f["bfloat16"].max == float(np.float32(3.3895313892515355e38))
    assert nm.get_format(np.float32) is f["float32"] and nm.get_format("bfloat16") is f["bfloat16"]
    assert nm.get_format(np.dtype("float16")) is f["float16"]


def test_round_to_float16_overflows_above_its_largest_number():
    got = nm.round_to(np.array([65504.0, 65519.0, 65520.0, 1e5]), np.float16)
    assert got[0] == 65504 and got[1] == 65504       # below the halfway point to 2**16
    assert np.isinf(got[2]) and np.isinf(got[3])


@pytest.mark.parametrize("method", nm.METHODS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_variance_in_float64_equals_numpy(method, axis):
    x = np.random.default_rng(2).normal(3.0, 2.0, (7, 5, 6))
    got = nm.variance(x, axis=axis, method=method)
    np.testing.assert_allclose(got, x.var(axis=axis), rtol=1e-13)
    assert got.dtype == np.float64


def test_variance_keeps_float32_and_bfloat16_storage():
    x = np.random.default_rng(3).standard_normal((10, 3)).astype(np.float32)
    assert nm.variance(x).dtype == np.float32
    assert nm.variance(x, dtype=np.float16).dtype == np.float16
    v = nm.variance(x, dtype="bfloat16")
    assert v.dtype == np.float32 and np.array_equal(v, nm.to_bfloat16(v))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, "bfloat16"])
@pytest.mark.parametrize("method", nm.METHODS)
def test_exactly_representable_data_give_the_exact_variance(dtype, method):
    # 1, 2, 3, 4: mean 2.5, variance 1.25; every intermediate fits in 7 fraction bits
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert float(nm.variance(x, method=method, dtype=dtype)) == 1.25


def test_welford_follows_its_recurrence():
    x = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])   # mean 5, variance 4
    mean = m2 = 0.0
    for k, v in enumerate(x, 1):
        d = v - mean
        mean += d / k
        m2 += d * (v - mean)
    assert m2 / len(x) == 4.0 == float(nm.variance(x, method="welford"))


def test_one_pass_cancels_in_float32_and_goes_negative_two_pass_and_welford_do_not():
    rng = np.random.default_rng(4)
    x = (1e4 + rng.standard_normal((1000, 64))).astype(np.float32)       # |mean| / std = 1e4
    exact = x.astype(np.float64).var(axis=0)               # the variance of the stored values
    one = nm.variance(x, method="one_pass").astype(np.float64)
    assert np.median(np.abs(one - exact) / exact) > 0.5
    assert np.any(one < 0), "some one-pass variance comes out negative"
    # two passes lose only the rounding of the mean; Welford's running mean is rounded at every
    # step, so it is less accurate, but still thousands of times better than one pass
    for method, tol in (("two_pass", 1e-5), ("welford", 1e-2)):
        v = nm.variance(x, method=method).astype(np.float64)
        assert np.all(v > 0) and np.max(np.abs(v - exact) / exact) < tol, method


def test_sums_of_squares_overflow_in_float16_long_before_the_variance_does():
    x = np.full((1000, 1), 10.0) + np.random.default_rng(5).standard_normal((1000, 1))  # var ~ 1
    assert np.isinf(nm.variance(x, method="one_pass", dtype=np.float16)).all()   # sum x^2 ~ 1e5
    two = float(nm.variance(x, method="two_pass", dtype=np.float16)[0])
    assert abs(two - x.var()) < 0.05 * x.var()


def test_rounded_sums_stick_and_overflow_where_the_formats_say():
    ones = np.ones(5000)
    # a running total in float16 stops at 2**11 (2048 + 1 rounds back to 2048); bfloat16 at 2**8
    assert float(nm.rounded_sum(ones, dtype=np.float16, order="sequential")) == 2048
    assert float(nm.rounded_sum(ones, dtype="bfloat16", order="sequential")) == 256
    assert float(nm.rounded_sum(ones, dtype=np.float16)) == 5000        # a tree of exact partial sums
    assert float(nm.rounded_sum(ones, dtype=np.float32, order="sequential")) == 5000
    assert np.isinf(nm.rounded_sum(np.ones(65536), dtype=np.float16))     # 65536 > 65504
    np.testing.assert_allclose(nm.rounded_sum(np.arange(12.0).reshape(3, 4), axis=1), [6, 22, 38])


def test_moments_and_an_empty_part():
    x = np.random.default_rng(6).normal(size=(9, 4))
    n, mean, m2 = nm.moments(x)
    assert n == 9
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(m2, 9 * x.var(axis=0), rtol=1e-13)
    n0, mean0, m20 = nm.moments(np.zeros((0, 4)))
    assert n0 == 0 and not mean0.any() and not m20.any()


def test_chan_merge_by_hand():
    # parts [1, 2] and [3, 5]: whole mean 2.75, sum of squared deviations 8.75
    n, mean, m2 = nm.chan_merge([2, 2], [[1.5], [4.0]], [[0.5], [2.0]])
    assert float(n[0]) == 4 and float(mean[0]) == 2.75 and float(m2[0]) == 8.75


@pytest.mark.parametrize("sizes", [(5, 3, 8), (1, 1), (4, 0, 6, 0), (0, 7), (2, 30, 1, 9)])
def test_chan_merge_equals_the_whole(sizes):
    rng = np.random.default_rng(sum(sizes))
    parts = [rng.normal(rng.uniform(-50, 50), rng.uniform(0.1, 5), (k, 3)) for k in sizes]
    stats = [nm.moments(p) for p in parts]
    n, mean, m2 = nm.chan_merge([s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats])
    whole = np.concatenate(parts)
    np.testing.assert_array_equal(n, np.full(3, len(whole)))
    np.testing.assert_allclose(mean, whole.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m2, len(whole) * whole.var(axis=0), rtol=1e-11)


def test_chan_merge_with_counts_per_channel_and_any_order():
    rng = np.random.default_rng(7)
    counts = np.array([[3, 0], [2, 5], [4, 1]])
    data = [[rng.normal(size=c) for c in row] for row in counts]
    means = np.array([[d.mean() if d.size else 0.0 for d in row] for row in data])
    m2s = np.array([[((d - d.mean()) ** 2).sum() if d.size else 0.0 for d in row] for row in data])
    n, mean, m2 = nm.chan_merge(counts, means, m2s)
    for c in range(2):
        whole = np.concatenate([row[c] for row in data])
        assert n[c] == whole.size
        assert abs(mean[c] - whole.mean()) < 1e-12 and abs(m2[c] - whole.size * whole.var()) < 1e-11
    rev = nm.chan_merge(counts[::-1], means[::-1], m2s[::-1])
    np.testing.assert_allclose(rev[1], mean, rtol=1e-12)
    np.testing.assert_allclose(rev[2], m2, rtol=1e-12)


@pytest.mark.parametrize("call,error,words", [
    (lambda: nm.variance(np.ones(3), method="three_pass"), ValueError, "method must be one of"),
    (lambda: nm.variance(np.ones(3), dtype="float8"), ValueError, "dtype must be one of"),
    (lambda: nm.variance(np.ones(3), dtype=np.int32), ValueError, "dtype must be one of"),
    (lambda: nm.variance(np.ones((0, 2))), ValueError, "at least one value along axis 0"),
    (lambda: nm.variance(np.ones(3), axis=1), ValueError, "out of range"),
    (lambda: nm.variance(np.ones(3), axis=True), TypeError, "axis must be an int"),
    (lambda: nm.variance(np.array(["a"])), TypeError, "real numbers"),
    (lambda: nm.rounded_sum(np.ones(3), order="random"), ValueError, "order must be one of"),
    (lambda: nm.chan_merge([2, -1], [[0.0], [1.0]], [[1.0], [0.0]]), ValueError, "whole numbers >= 0"),
    (lambda: nm.chan_merge([2, 1.5], [[0.0], [1.0]], [[1.0], [0.0]]), ValueError, "whole numbers >= 0"),
    (lambda: nm.chan_merge([2], [[0.0], [1.0]], [[1.0], [0.0]]), ValueError, "counts must have shape"),
    (lambda: nm.chan_merge([2, 2], [[0.0], [1.0]], [[1.0]]), ValueError, "same shape"),
    (lambda: nm.chan_merge([0, 0], [[0.0], [1.0]], [[0.0], [0.0]]), ValueError, "at least one value"),
    (lambda: nm.chan_merge([2, 2], [[0.0], [1.0]], [[-1.0], [0.0]]), ValueError, ">= 0"),
    (lambda: nm.chan_merge([2, 0], [[0.0], [1.0]], [[1.0], [3.0]]), ValueError, "count 0"),
    (lambda: nm.chan_merge([2, 2], [[np.nan], [1.0]], [[1.0], [0.0]]), ValueError, "finite"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_nothing_is_changed_in_place():
    rng = np.random.default_rng(8)
    x, counts = rng.normal(size=(6, 3)), np.array([2, 4])
    means, m2s = rng.normal(size=(2, 3)), np.ones((2, 3))
    before = [a.copy() for a in (x, counts, means, m2s)]
    for method in nm.METHODS:
        for dtype in (None, np.float16, "bfloat16"):
            nm.variance(x, method=method, dtype=dtype)
    nm.rounded_sum(x, order="sequential", dtype="bfloat16")
    nm.moments(x)
    nm.to_bfloat16(x)
    nm.chan_merge(counts, means, m2s)
    for a, b in zip(before, (x, counts, means, m2s)):
        np.testing.assert_array_equal(a, b)
