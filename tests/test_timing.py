"""bnlib.timing: the shape and arithmetic of its result, and its argument checks (not timings)."""
import numpy as np
import pytest

from bnlib.timing import time_staged_vs_compact


def test_one_entry_per_batch_size_and_speedup_is_the_ratio():
    r = time_staged_vs_compact([4, 32, 8], D=5, repeats=2)
    assert set(r) == {"batch_size", "staged", "compact", "speedup"}
    assert r["batch_size"].tolist() == [4, 32, 8]
    for key in ("staged", "compact", "speedup"):
        assert r[key].shape == (3,) and np.all(np.isfinite(r[key])) and np.all(r[key] > 0)
    np.testing.assert_array_equal(r["speedup"], r["staged"] / r["compact"])


def test_a_single_batch_size_is_accepted():
    assert time_staged_vs_compact(16, D=3, repeats=1)["batch_size"].tolist() == [16]


@pytest.mark.parametrize("kwargs, error, words", [
    ({"batch_sizes": [1]}, ValueError, "batch size"),
    ({"batch_sizes": []}, ValueError, "at least one"),
    ({"batch_sizes": [8], "D": 0}, ValueError, "D"),
    ({"batch_sizes": [8], "repeats": 1.5}, TypeError, "repeats"),
    ({"batch_sizes": [8.0]}, TypeError, "batch size"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        time_staged_vs_compact(**kwargs)
