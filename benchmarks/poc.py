"""Benchmark: wireless proof of coverage — reports verified per second, and scoring an epoch of 100k hotspots.

Measured in one run:
  1. per-report rules + HIP-106/83/15/17 (`evaluate_poc` with trust off) on one simulated day of an honest
     fleet, in beacon+witness reports per second; then the same epoch with detection (trust) on;
  2. the baseline measured alongside: only the geometry every witness check needs (a bare Python loop doing
     two H3 parents and one grid distance per witness, and the witnesses' great-circle distances in one
     deterministic vectorised batch, as the rules compute them), in witnesses per second; the ratio says how
     close the whole rule set runs to that irreducible floor;
  3. the time to score one epoch of a 100,000-hotspot fleet (rules, reciprocity, cap, HIP-15, HIP-17 and
     every trust detector), reported separately from the time to simulate its reports.

  .venv/bin/python benchmarks/poc.py                 # 2,000-hotspot throughput + 100,000-hotspot epoch
  .venv/bin/python benchmarks/poc.py --hotspots 20000  # a smaller large epoch

With --adversaries it measures detection instead: every scenario of `depin simulate wireless` (old and new,
the adaptive adversary included) on --devices hotspots, 15 % adversaries, --epochs epochs and each of
--seeds, and prints a markdown table: leakage, honest false positives, pay per adversary hotspot relative
to an honest one, with detection and with the per-report rules alone (the baseline, same run), the share
of honest hotspots detection paid less than half, and the share of sparse honest hotspots paid.

  .venv/bin/python benchmarks/poc.py --adversaries --devices 1000 --epochs 3 --seeds 7,11
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import h3
import numpy as np

from opendepin.sectors.base import EpochWindow, SectorInput
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc
from opendepin.sectors.wireless.poc.geo import compute_cell_distances_m
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import WITNESS
from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.runner import EPOCH_SECONDS, GENESIS, build_registry, run_scenario
from opendepin.sectors.wireless.sim.scenarios import SCENARIOS, build_fleet


def make_epoch(hotspots: int, seed: int, beacon_probability: float) -> tuple[SectorInput, float]:
    """One simulated day of an honest fleet as a SectorInput, and the seconds it took to simulate."""
    started = time.perf_counter()
    physics, params = RadioPhysics(), PocParams()
    fleet = build_fleet("honest", hotspots, seed)
    rng = np.random.default_rng(seed + 1)
    links = build_radio_links(fleet, physics, rng)
    window = EpochWindow(0, GENESIS, GENESIS + EPOCH_SECONDS)
    log = simulate_epoch(fleet, links, window, physics, params, rng, seed, beacon_probability)
    data = SectorInput(window, build_registry(fleet), log.reports, {}, {ENTROPY_CONTEXT_KEY: log.entropies})
    return data, time.perf_counter() - started


def time_evaluate(data: SectorInput, params: PocParams) -> float:
    """Seconds until the outcome is returned (releasing it afterwards, 2.5 M verdicts with their evidence
    at 100,000 hotspots, is the caller's business and is not counted)."""
    started = time.perf_counter()
    outcome = evaluate_poc(data, params)
    elapsed = time.perf_counter() - started
    del outcome
    return elapsed


def time_geometry_floor(data: SectorInput) -> tuple[float, int]:
    """The bare per-witness geometry loop (the baseline): seconds and witnesses processed."""
    witnesses = [r for r in data.reports if r.kind == WITNESS]
    started = time.perf_counter()
    pairs = []
    for report in witnesses:
        mine = data.devices[report.device_id].location or ""
        theirs = data.devices[str(report.payload["beaconer"])].location or ""
        h3.grid_distance(h3.cell_to_parent(mine, 11), h3.cell_to_parent(theirs, 11))
        pairs.append((mine, theirs))
    compute_cell_distances_m(pairs)
    return time.perf_counter() - started, len(witnesses)


def format_row(result: dict[str, Any]) -> str:
    """One markdown row: scenario, seed, adversaries, then each figure as detection / rules alone."""
    base = result["baseline"]
    ratio = (
        "–"
        if not result["adversaries"]
        else (f"{result['adversary_pay_ratio']:.3f} / {base['adversary_pay_ratio']:.3f}")
    )
    played = result["strategy"] if result["scenario"] == "adaptive" else ""
    return (
        f"| {result['scenario']}{f' (→ {played})' if played else ''} | {result['seed']} "
        f"| {result['adversaries']} | {100 * result['leakage']:.2f} % / {100 * base['leakage']:.2f} % "
        f"| {ratio} | {100 * result['false_positive_rate']:.2f} % "
        f"/ {100 * base['false_positive_rate']:.2f} % "
        f"| {100 * result['honest_underpaid']:.2f} % "
        f"| {100 * result['sparse_honest_rewarded']:.1f} % / {100 * base['sparse_honest_rewarded']:.1f} % |"
    )


def measure_adversaries(
    devices: int,
    epochs: int,
    seeds: list[int],
    jsonl: str | None,
    scenarios: list[str] | None = None,
    onboarding: str = "same",
) -> None:
    """Every scenario × seed through the network's own epoch; prints the markdown table as it goes."""
    print(
        "| scenario | seed | adversaries | leakage (detection / rules) | pay per adversary hotspot "
        "relative to honest (detection / rules) | honest FPR (detection / rules) | honest paid < ½ "
        "| sparse honest paid (detection / rules) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for scenario in scenarios or list(SCENARIOS):
        for seed in seeds:
            started = time.perf_counter()
            result = run_scenario(scenario, devices, epochs, seed, onboarding=onboarding).as_dict()
            result["seconds"] = round(time.perf_counter() - started, 1)
            print(format_row(result), flush=True)
            if jsonl:
                with open(jsonl, "a", encoding="utf-8") as out:
                    out.write(json.dumps(result, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--adversaries", action="store_true", help="measure detection on every scenario")
    parser.add_argument("--devices", type=int, default=1_000, help="hotspots per scenario run")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per scenario run")
    parser.add_argument("--seeds", default="7,11", help="comma-separated seeds")
    parser.add_argument("--jsonl", default=None, help="also append every run's JSON to this file")
    parser.add_argument("--scenarios", default="", help="comma-separated scenarios (default: all)")
    parser.add_argument(
        "--onboarding",
        default="same",
        choices=["same", "spread", "sleepers"],
        help="when the hotspots were onboarded (depin simulate wireless --onboarding)",
    )
    parser.add_argument("--small", type=int, default=2_000, help="hotspots for the throughput figure")
    parser.add_argument("--hotspots", type=int, default=100_000, help="hotspots for the large epoch")
    parser.add_argument("--beacons-per-day", type=float, default=1.0, help="in the large epoch (4 buckets)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.adversaries:
        seeds = [int(s) for s in args.seeds.split(",")]
        chosen = [s for s in args.scenarios.split(",") if s] or None
        measure_adversaries(args.devices, args.epochs, seeds, args.jsonl, chosen, args.onboarding)
        return
    rules = PocParams().model_copy(update={"trust": PocParams().trust.model_copy(update={"enabled": False})})
    full = PocParams()

    data, _ = make_epoch(args.small, args.seed, 0.5)
    n = len(data.reports)
    t_rules = min(time_evaluate(data, rules) for _ in range(3))
    t_full = min(time_evaluate(data, full) for _ in range(3))
    t_floor, n_witness = min(time_geometry_floor(data) for _ in range(3))
    print(f"epoch of {args.small:,} hotspots: {n:,} beacon+witness reports ({n_witness:,} witnesses)")
    print(f"  per-report rules + HIP-106/83/15/17: {n / t_rules:,.0f} reports/s ({t_rules:.2f} s)")
    print(f"  with trust detection:                {n / t_full:,.0f} reports/s ({t_full:.2f} s)")
    print(f"  baseline, bare geometry loop:        {n_witness / t_floor:,.0f} witnesses/s ({t_floor:.2f} s)")
    print(f"  ratio rules/baseline (per witness):  {(n_witness / t_rules) / (n_witness / t_floor):.2f}")

    big, t_sim = make_epoch(args.hotspots, args.seed, args.beacons_per_day / 4)
    t_big_rules = time_evaluate(big, rules)
    t_big_full = time_evaluate(big, full)
    t_big_floor, n_big_witness = time_geometry_floor(big)
    print(f"epoch of {args.hotspots:,} hotspots: {len(big.reports):,} reports (simulated in {t_sim:.1f} s)")
    print(f"  scored with per-report rules only:   {t_big_rules:.1f} s")
    print(
        f"  scored with rules + trust detection: {t_big_full:.1f} s "
        f"({len(big.reports) / t_big_full:,.0f} reports/s)"
    )
    print(f"  baseline, bare geometry loop:        {t_big_floor:.1f} s ({n_big_witness:,} witnesses)")
    print(f"  load average (1, 5, 15 min):         {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
