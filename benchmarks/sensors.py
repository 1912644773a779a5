"""Benchmark: station-days the sensors sector scores per second.

One simulated day of N weather stations (WS2000: a sample every 3 minutes, hourly GNSS fixes) is scored by
the sector's epoch function (`evaluate_sensors`: buffering, the QoD range, spike and constancy checks, hourly
scores, clear sky, neighbours, clones, deployment, location, cells, exact pay), against a bare numpy pass over
the same observations in the same run: per station and parameter a range test, the jumps between
consecutive samples and a stuck-value run test, and hourly valid shares (no neighbours, no clear sky, no
exact arithmetic). CPU time, best of interleaved rounds.

    .venv/bin/python benchmarks/sensors.py [--stations 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opendepin.reports.model import ReportRecord  # noqa: E402
from opendepin.sectors.base import EpochWindow, SectorInput  # noqa: E402
from opendepin.sectors.sensors.evaluate import evaluate_sensors  # noqa: E402
from opendepin.sectors.sensors.params import SensorsParams, milli  # noqa: E402
from opendepin.sectors.sensors.reports import FIELDS, PARAMS, WEATHER  # noqa: E402
from opendepin.sectors.sensors.sim.runner import behaviours_for, registry_of, station_reports  # noqa: E402
from opendepin.sectors.sensors.sim.world import build_world  # noqa: E402

DAY = 86_400
GENESIS = 1_780_272_000  # 2026-06-01


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def bare_numpy(arrays: list[tuple[np.ndarray, np.ndarray]], params: SensorsParams) -> int:
    """Range, jump and stuck tests and hourly valid shares with plain numpy; returns the valid samples."""
    profile = params.profile("WS2000")
    low = np.array([milli(profile.obc_min.get(p, -1e6)) for p in PARAMS])
    high = np.array([milli(profile.obc_max.get(p, 1e6)) for p in PARAMS])
    jump = np.array([milli(profile.spike.get(p, 1e6)) for p in PARAMS])
    total = 0
    for ts, values in arrays:
        ok = (values >= low) & (values <= high)
        jumps = np.abs(np.diff(values, axis=0)) > jump
        ok[1:] &= ~jumps
        stuck = np.diff(values, axis=0) == 0
        ok[1:] &= ~stuck | (values[1:] == 0)
        hours = (ts - ts[0]) // 3_600
        shares = np.stack([np.bincount(hours, weights=ok[:, p], minlength=24) for p in range(len(PARAMS))])
        total += int(shares.sum())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.stations
    world = build_world(n, behaviours_for("honest", n, 0.0), 7, GENESIS, 1)
    registry = registry_of(world, GENESIS - 3_600)
    reports: list[ReportRecord] = []
    for station in world.stations:
        reports.extend(station_reports(world, station, GENESIS, GENESIS + DAY))
    params = SensorsParams()
    data = SectorInput(EpochWindow(0, GENESIS, GENESIS + DAY), registry, reports)
    arrays = []
    by_device: dict[str, list[ReportRecord]] = {}
    for r in reports:
        if r.kind == WEATHER:
            by_device.setdefault(r.device_id, []).append(r)
    for rows in by_device.values():
        rows.sort(key=lambda r: r.ts)
        ts = np.array([r.ts for r in rows], dtype=np.int64)
        values = np.array(
            [[round(float(r.payload[FIELDS[p]]) * 1000) for p in PARAMS] for r in rows], dtype=np.int64
        )
        arrays.append((ts, values))
    samples = sum(a[0].size for a in arrays)
    ours = bare = float("inf")
    for _ in range(args.rounds):  # interleaved, best of each
        ours = min(ours, best(lambda: evaluate_sensors(data, params), 1))
        bare = min(bare, best(lambda: bare_numpy(arrays, params), 1))
    outcome = evaluate_sensors(data, params)
    paid = sum(1 for c in outcome.contributions if c.units > 0)
    print(
        f"{n} stations, one day each: {samples} weather samples, {len(reports)} reports; {paid} stations paid"
    )
    print(f"sensors sector: {n / ours:,.1f} station-days/s ({ours:.3f} s CPU)")
    print(
        f"bare numpy (range, jumps, stuck, hourly shares): {n / bare:,.1f} station-days/s ({bare:.3f} s CPU)"
    )
    print(f"ratio sector / bare numpy: {bare / ours:.3f} (the sector is {ours / bare:.1f}x slower)")


if __name__ == "__main__":
    main()
