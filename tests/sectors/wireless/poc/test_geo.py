"""Great-circle distances of many points (sectors/wireless/poc/geo.py): computed a chunk at a time, the same
bits as the whole array at once and as each pair on its own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc import geo


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(1, 64), st.integers(0, 2**32 - 1))
def test_distances_a_chunk_at_a_time_are_the_distances_at_once(
    size: int, chunk: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    lat1, lng1 = rng.uniform(-90, 90, size), rng.uniform(-180, 180, size)
    lat2, lng2 = lat1 + rng.normal(0, 1e-3, size), lng1 + rng.normal(0, 1e-3, size)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(geo, "HAVERSINE_CHUNK", chunk)
        chunked = geo.compute_haversine_many(lat1, lng1, lat2, lng2)
    whole = np.asarray(geo.compute_haversine_m(lat1, lng1, lat2, lng2), dtype=np.float64)
    assert chunked.view(np.uint64).tolist() == whole.view(np.uint64).tolist()
    one_by_one = [geo.compute_haversine_m(*p) for p in zip(lat1, lng1, lat2, lng2, strict=True)]
    assert chunked.tolist() == [float(d) for d in one_by_one]
