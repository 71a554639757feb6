"""bnlib.timing: the shared interleaved timer and the chapter's comparison (their plumbing, not timings)."""
import numpy as np
import pytest

from bnlib.timing import interleaved, time_implementations


def test_interleaved_times_every_callable_in_every_round_in_alternation():
    order = []
    out = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                      budget_s=0.001, min_rounds=3, max_rounds=4)
    assert set(out) == {"a", "b"}
    assert 3 <= len(out["a"]) == len(out["b"]) <= 4
    assert all(t > 0 for t in out["a"] + out["b"])
    # after the warm-up and the two calibration calls each, rounds alternate: a-block, b-block, a-block, ...
    timed = order[6:]
    blocks = [k for i, k in enumerate(timed) if i == 0 or timed[i - 1] != k]
    assert blocks[:4] == ["a", "b", "a", "b"]


def test_interleaved_needs_something_to_time():
    with pytest.raises(ValueError, match="at least one"):
        interleaved({})


def test_one_entry_per_batch_size_for_each_implementation():
    r = time_implementations([4, 32, 8], D=5, budget_s=0.001)
    assert set(r) == {"batch_size", "staged", "reference", "fastpath"}
    assert r["batch_size"].tolist() == [4, 32, 8]
    for key in ("staged", "reference", "fastpath"):
        assert r[key].shape == (3,) and np.all(np.isfinite(r[key])) and np.all(r[key] > 0)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"batch_sizes": [1]}, ValueError, "batch size"),
    ({"batch_sizes": []}, ValueError, "at least one"),
    ({"batch_sizes": [8], "D": 0}, ValueError, "D"),
    ({"batch_sizes": [8], "D": 1.5}, TypeError, "D"),
    ({"batch_sizes": [8.0]}, TypeError, "batch size"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        time_implementations(**kwargs)
