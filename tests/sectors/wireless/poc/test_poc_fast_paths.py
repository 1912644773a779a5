"""The scoring's fast paths give the very bits of the straightforward code they replace.

- `refine_positions` drops rows that reached a fixed point (a step left them at the same bits) from the
  batch, and steps the rows block by block: compared with stepping every row every time, bit for bit, on
  seeded random observations;
- `build_tables` gathers the link arrays in one pass: compared with one list per figure over the rows;
- grid distances go through cached integer H3 ancestors, and `compute_cell_distances_m` looks each
  distinct cell's centre up once: compared with H3's string API and with one pair at a time;
- `evaluate_poc` pauses the cyclic garbage collector and restores it as it was;
- connected components come from scipy, labelled by their smallest node: compared with union–find.
"""

from __future__ import annotations

import gc
from dataclasses import replace

import h3
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.base import EpochWindow, SectorInput
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc, pause_gc
from opendepin.sectors.wireless.poc.geo import (
    FAR_CELLS,
    compute_cell_distance,
    compute_cell_distance_m,
    compute_cell_distances_m,
)
from opendepin.sectors.wireless.poc.graph import compute_components
from opendepin.sectors.wireless.poc.matching import process_beacons, process_witnesses
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS
from opendepin.sectors.wireless.poc.tables import build_tables
from opendepin.sectors.wireless.poc.trilateration import Observations, refine_positions, step_positions
from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.runner import EPOCH_SECONDS, GENESIS, build_registry
from opendepin.sectors.wireless.sim.scenarios import build_fleet

PARAMS = PocParams()


def _random_observations(seed: int, rows: int, width: int) -> tuple[np.ndarray, Observations]:
    """Counterparts scattered over a few km, some rows without links, some with a handful, some full."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-5_000.0, 5_000.0, size=(rows, width, 2))
    truth = rng.uniform(-3_000.0, 3_000.0, size=(rows, 2))
    distance = np.sqrt(((points - truth[:, None, :]) ** 2).sum(axis=2))
    log_distance = np.log10(np.maximum(distance, 50.0)) + rng.normal(0.0, 0.1, size=(rows, width))
    used = rng.integers(0, width + 1, size=rows)
    used[: rows // 5] = 0
    weight = np.where(np.arange(width)[None, :] < used[:, None], rng.uniform(0.2, 1.0, (rows, width)), 0.0)
    start = truth + rng.normal(0.0, 800.0, size=(rows, 2))
    return start, Observations(points, log_distance, weight)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 30), width=st.integers(1, 20))
def test_refine_positions_equals_stepping_every_row_every_time(seed: int, steps: int, width: int) -> None:
    start, obs = _random_observations(seed, 40, width)
    sigma = PARAMS.trust.shadowing_sigma_db / (10 * PARAMS.trust.path_loss_exponent)
    plain = start.copy()
    for _ in range(steps):
        plain = step_positions(plain, obs, sigma)
    fast = refine_positions(start.copy(), obs, sigma, steps)
    assert fast.shape == plain.shape
    assert np.array_equal(fast.view(np.int64), plain.view(np.int64))
    blocks = refine_positions(start.copy(), obs, sigma, steps, block_rows=7)  # 6 blocks, the last short
    assert np.array_equal(blocks.view(np.int64), plain.view(np.int64))


def test_refine_positions_freezes_rows_at_their_fixed_point() -> None:
    """Rows without links never move; many rows with links stop moving before 60 steps: both leave the
    batch, and the result is still that of 60 full steps."""
    start, obs = _random_observations(7, 60, 12)
    sigma = PARAMS.trust.shadowing_sigma_db / (10 * PARAMS.trust.path_loss_exponent)
    plain = start.copy()
    still = np.zeros(len(start), dtype=bool)
    for _ in range(60):
        moved = step_positions(plain, obs, sigma)
        still |= (moved.view(np.int64) == plain.view(np.int64)).all(axis=1)
        plain = moved
    assert still[(obs.weight > 0).any(axis=1)].any() and still[~(obs.weight > 0).any(axis=1)].all()
    fast = refine_positions(start.copy(), obs, sigma, 60)
    assert np.array_equal(fast.view(np.int64), plain.view(np.int64))


def _small_epoch(hotspots: int, seed: int) -> SectorInput:
    physics = RadioPhysics()
    fleet = build_fleet("honest", hotspots, seed)
    rng = np.random.default_rng(seed + 1)
    links = build_radio_links(fleet, physics, rng)
    window = EpochWindow(0, GENESIS, GENESIS + EPOCH_SECONDS)
    log = simulate_epoch(fleet, links, window, physics, PARAMS, rng, seed, 0.5)
    return SectorInput(window, build_registry(fleet), log.reports, {}, {ENTROPY_CONTEXT_KEY: log.entropies})


def test_build_tables_links_equal_one_list_per_figure() -> None:
    data = _small_epoch(150, 3)
    entropies = {str(k): int(v) for k, v in dict(data.context[ENTROPY_CONTEXT_KEY]).items()}
    beacon_reports = [r for r in data.reports if r.kind == BEACON]
    witness_reports = [r for r in data.reports if r.kind == WITNESS]
    _, beacons, cited, _ = process_beacons(beacon_reports, data.devices, entropies, {}, PARAMS)
    process_witnesses(witness_reports, data.devices, entropies, beacons, cited, PARAMS)
    tables = build_tables(data, beacons, PARAMS)
    index = {d: i for i, d in enumerate(tables.devices.ids)}
    rows = [(b, w) for _, b in sorted(beacons.items()) for w in b.witnesses]
    assert len(rows) > 100
    got = [tables.row(k) for k in range(len(rows))]
    assert [(id(b), r) for b, r in got] == [(id(b), w.report_id) for b, w in rows]
    expected = {
        "beaconer": np.array([index[b.report.device_id] for b, _ in rows], dtype=np.int64),
        "witness": np.array([index[w.device_id] for _, w in rows], dtype=np.int64),
        "rssi_dbm": np.array([w.rssi_dbm for _, w in rows], dtype=np.float64),
        "tx_power_dbm": np.array([b.payload.tx_power_dbm for b, _ in rows], dtype=np.float64),
        "distance_m": np.array([w.distance_m for _, w in rows], dtype=np.float64),
        "lag_ms": np.array([w.rx_ms - b.payload.tx_ms for b, w in rows], dtype=np.float64),
    }
    for name, column in expected.items():
        got = getattr(tables.links, name)
        assert got.dtype == column.dtype and np.array_equal(got.view(np.int64), column.view(np.int64)), name


def test_evaluate_poc_restores_the_garbage_collector_as_it_was() -> None:
    data = _small_epoch(20, 5)
    was = gc.isenabled()
    try:
        gc.enable()
        evaluate_poc(data, PARAMS)
        assert gc.isenabled()
        gc.disable()
        evaluate_poc(data, PARAMS)
        assert not gc.isenabled()
        gc.enable()
        try:
            with pause_gc():
                assert not gc.isenabled()
                raise KeyError("boom")
        except KeyError:
            pass
        assert gc.isenabled()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


def _straight_cell_distance(a: str, b: str, resolution: int) -> int:
    pa = h3.cell_to_parent(a, resolution) if h3.get_resolution(a) > resolution else a
    pb = h3.cell_to_parent(b, resolution) if h3.get_resolution(b) > resolution else b
    try:
        return int(h3.grid_distance(pa, pb))
    except h3.H3BaseException:
        return FAR_CELLS


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    resolution=st.sampled_from([8, 10, 11, 12]),
    spread=st.sampled_from([0.0005, 0.01, 0.5, 40.0]),
)
def test_cell_distances_equal_the_straightforward_ones(seed: int, resolution: int, spread: float) -> None:
    rng = np.random.default_rng(seed)
    lat0, lng0 = rng.uniform(-60.0, 60.0), rng.uniform(-170.0, 170.0)
    cells = [
        h3.latlng_to_cell(lat0 + rng.uniform(-spread, spread), lng0 + rng.uniform(-spread, spread), res)
        for res in rng.choice([9, 11, 12], size=12)
    ]
    pairs = [(cells[i], cells[j]) for i, j in rng.integers(0, len(cells), size=(30, 2))]
    for a, b in pairs:
        assert compute_cell_distance(a, b, resolution) == _straight_cell_distance(a, b, resolution)
    batch = compute_cell_distances_m(pairs)
    one_by_one = np.array([compute_cell_distance_m(a, b) for a, b in pairs])
    assert np.array_equal(batch.view(np.int64), one_by_one.view(np.int64))


def _union_find_components(size: int, left: list[int], right: list[int]) -> list[int]:
    """The straightforward definition: union–find, every component labelled by its smallest node."""
    parent = list(range(size))

    def find(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for a, b in zip(left, right, strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(node) for node in range(size)]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 40),
    edges=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=60),
)
def test_components_equal_union_find(size: int, edges: list[tuple[int, int]]) -> None:
    """Self-loops, repeated edges and isolated nodes included."""
    kept = [(a, b) for a, b in edges if a < size and b < size]
    left = np.array([a for a, _ in kept], dtype=np.int64)
    right = np.array([b for _, b in kept], dtype=np.int64)
    labels = compute_components(size, left, right)
    assert labels.dtype == np.int64
    assert labels.tolist() == _union_find_components(size, [a for a, _ in kept], [b for _, b in kept])


def test_link_lags_beyond_int64_are_python_integers_as_floats() -> None:
    """A beacon "sent" at 2⁷⁰ ms is valid (the rules do not bound the time) and its witnesses' lags are
    hugely negative: the link table computes them with Python's integers, as before."""
    data = _small_epoch(150, 3)
    entropies = {str(k): int(v) for k, v in dict(data.context[ENTROPY_CONTEXT_KEY]).items()}
    shifted = next(r for r in data.reports if r.kind == BEACON)
    reports = [replace(r, payload={**r.payload, "tx_ms": 2**70}) if r is shifted else r for r in data.reports]
    beacon_reports = [r for r in reports if r.kind == BEACON]
    witness_reports = [r for r in reports if r.kind == WITNESS]
    _, beacons, cited, _ = process_beacons(beacon_reports, data.devices, entropies, {}, PARAMS)
    process_witnesses(witness_reports, data.devices, entropies, beacons, cited, PARAMS)
    tables = build_tables(replace(data, reports=reports), beacons, PARAMS)
    rows = [(b, w) for _, b in sorted(beacons.items()) for w in b.witnesses]
    assert any(b.payload.tx_ms == 2**70 for b, _ in rows)
    expected = np.array([w.rx_ms - b.payload.tx_ms for b, w in rows], dtype=np.float64)
    assert np.array_equal(tables.links.lag_ms, expected)
