"""Merging shard accumulators equals one pass (to 1e-9 in float64)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from headlens.accumulate import Moments

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False) | st.just(float("nan"))


@settings(max_examples=60, deadline=None)
@given(
    data=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(2), st.just(3)), elements=values),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_merged_shards_equal_one_pass(data, cuts):
    one = Moments((2, 3)).update(data)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    shards = [Moments((2, 3)).update(data[a:b]) for a, b in zip(bounds, bounds[1:])]
    merged = Moments((2, 3))
    for s in shards:
        merged.merge(s)
    np.testing.assert_array_equal(merged.count, one.count)
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(merged.m2, one.m2, rtol=1e-9, atol=1e-7)
    np.testing.assert_array_equal(merged.min, one.min)
    np.testing.assert_array_equal(merged.max, one.max)
    # and equal to numpy's own statistics over the finite values
    for idx in np.ndindex(2, 3):
        col = data[(slice(None), *idx)]
        col = col[np.isfinite(col)]
        assert merged.count[idx] == len(col)
        if len(col):
            assert np.isclose(merged.mean[idx], col.mean(), rtol=1e-9, atol=1e-9)
        if len(col) > 1:
            assert np.isclose(merged.var[idx], col.var(ddof=1), rtol=1e-9, atol=1e-7)
        else:
            assert np.isnan(merged.var[idx])


def test_roundtrip_through_dict():
    m = Moments((1, 2)).update(np.array([[[1.0, 2.0]], [[3.0, np.nan]]]))
    back = Moments.from_dict(m.to_dict())
    for k in ("count", "mean", "m2", "min", "max"):
        np.testing.assert_array_equal(getattr(back, k), getattr(m, k))


def test_dict_is_json_exact_and_reads_the_older_list_form():
    """to_dict packs the arrays (base64 of their bytes): through JSON every bit comes back, infinities
    included; the nested lists that runs wrote before are still read."""
    import json

    rng = np.random.default_rng(0)
    x = np.where(rng.random((5, 3, 4)) < 0.3, np.nan, rng.normal(size=(5, 3, 4)) / 3)
    x[:, 2, 3] = np.nan  # a cell without observations
    m = Moments((3, 4)).update(x)
    back = Moments.from_dict(json.loads(json.dumps(m.to_dict())))
    older = {k: getattr(m, k).tolist() for k in ("count", "mean", "m2", "min", "max")} | {"shape": [3, 4]}
    for restored in (back, Moments.from_dict(json.loads(json.dumps(older)))):
        assert restored.shape == m.shape and restored.count.dtype == np.int64
        for k in ("count", "mean", "m2", "min", "max"):
            np.testing.assert_array_equal(getattr(restored, k), getattr(m, k))
    assert np.isinf(back.min).any()  # a cell without observations keeps +inf
