"""Benchmark: the 5-variable burn-and-mint model, ours (numpy, vectorised over runs) against radCAD.

Measured side by side in one run (radCAD, a cadCAD-compatible Python framework, steps one run at a time
through partial state update blocks; ours steps all runs at once):
  1. ours: 100 runs × 3,650 daily steps (best of 3);
  2. radCAD: the same model written as partial state update blocks, 100 runs × 3,650 steps;
  3. the ratio (bar: ≥ 200×), and ours for 10,000 runs × 10 years (bar: < 60 s);
  4. agreement: mean paths of both at yearly points within Monte Carlo error (|z| < 4.5);
  5. for information (no bar): ours on the shipped `growth` scenario, with two device types joining and
     leaving and the reward policy splitting their pay between coverage and usage every day.
Our model computes the reward policy's usage ratio and weight every day in (1)–(3) too (it is part of the
model); the radCAD model has no devices, so nothing there depends on it.

The model (variables demand D, price P, supply S, minted M, burned B), day t:
  B_t = min(D_t / P_t, S_t); M_t = halving schedule (60M a year, halved every 730 days);
  S_{t+1} = S_t + M_t − B_t;
  log P_{t+1} = log P_t + (μ − σ²/2)/365 + σ/√365·ε + clip(k · (D_t − s·M_t·P_t) / depth, ±0.5);
  D_{t+1} = D_t · (1 + g)^{1/365} · exp(−σ_D²/730 + σ_D/√365·ε').
radCAD is installed for benchmarks only. Its metadata pins numpy<1.26.4, which would downgrade numpy below
what pyarrow/polars need here; it runs fine on numpy 2, so install it without letting pip resolve numpy:
  .venv/bin/pip install --no-deps radcad pathos multiprocess dill ppft pox fn-py py pandas
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from opendepin.economics.model import simulate
from opendepin.economics.scenarios import load_scenario
from opendepin.economics.spec import (
    GrowthSpec,
    HalvingSchedule,
    PriceSpec,
    ScenarioSpec,
    SectorSpec,
    SellingSpec,
    TokenSpec,
)

DAYS = 3_650
RUNS = 100
BIG_RUNS = 10_000
RADCAD_BASELINE_NOTE = "radCAD steps each run in Python, one state dict per substep"

D0, GROWTH, DEMAND_VOL = 1_000.0, 0.5, 0.3
P0, PRICE_DRIFT, PRICE_VOL, IMPACT, DEPTH, SELL = 0.05, 0.0, 0.5, 0.5, 1_000_000.0, 0.5
S0, EMISSION_PER_YEAR, HALVING_DAYS = 100_000_000.0, 60_000_000.0, 730
MAX_PUSH = 0.5
RATIO_BAR = 200
Z_LIMIT = 4.5


def bme_scenario(days: int = DAYS) -> ScenarioSpec:
    """The 5-variable BME model as an opendepin scenario (one sector, market price, no devices)."""
    return ScenarioSpec(
        name="bench-bme",
        days=days,
        token=TokenSpec(initial_supply=S0),
        emission=HalvingSchedule(initial_per_year=EMISSION_PER_YEAR, halving_period_days=HALVING_DAYS),
        price=PriceSpec(
            kind="market",
            initial=P0,
            drift_per_year=PRICE_DRIFT,
            volatility_per_year=PRICE_VOL,
            impact=IMPACT,
            depth_usd=DEPTH,
            sell_fraction=SELL,
        ),
        selling=SellingSpec(rule="fixed"),  # the shared model: a fixed share of every mint is sold
        sectors=[
            SectorSpec(
                name="service",
                initial_usd_per_day=D0,
                growth=GrowthSpec(kind="exponential", rate_per_year=GROWTH),
                volatility_per_year=DEMAND_VOL,
            )
        ],
    )


def run_ours(runs: int, days: int, seed: int) -> dict[str, np.ndarray]:
    """Our model; returns (days, runs) paths aligned with radCAD's timesteps 1..days."""
    result = simulate((bme_scenario(days),), runs, seed=seed, record_every=1)
    return {
        "supply": result.channel("supply"),
        "burned": result.channel("burned"),
        "minted": result.channel("minted"),
        "demand": result.channel("demand_usd"),
    }


# --- the same model in radCAD -------------------------------------------------------------------------


def _p_mint_and_burn(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any]
) -> dict[str, float]:
    day = state["timestep"]
    rate = EMISSION_PER_YEAR / 365.0 * 0.5 ** (day // HALVING_DAYS)
    burn = min(state["demand"] / state["price"], state["supply"])
    return {"mint": rate, "burn": burn}


def _s_minted(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any], inp: dict[str, float]
) -> tuple[str, float]:
    return "minted", inp["mint"]


def _s_burned(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any], inp: dict[str, float]
) -> tuple[str, float]:
    return "burned", inp["burn"]


def _s_supply(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any], inp: dict[str, float]
) -> tuple[str, float]:
    return "supply", state["supply"] + inp["mint"] - inp["burn"]


def _p_market(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any]
) -> dict[str, float]:
    flow = (state["demand"] - SELL * state["minted"] * state["price"]) / DEPTH
    push = max(-MAX_PUSH, min(MAX_PUSH, IMPACT * flow))
    step = (PRICE_DRIFT - 0.5 * PRICE_VOL**2) / 365.0 + PRICE_VOL / math.sqrt(
        365.0
    ) * np.random.standard_normal()
    shock = -0.5 * DEMAND_VOL**2 / 365.0 + DEMAND_VOL / math.sqrt(365.0) * np.random.standard_normal()
    return {
        "price_factor": math.exp(step + push),
        "demand_factor": (1.0 + GROWTH) ** (1.0 / 365.0) * math.exp(shock),
    }


def _s_price(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any], inp: dict[str, float]
) -> tuple[str, float]:
    return "price", state["price"] * inp["price_factor"]


def _s_demand(
    params: dict[str, Any], substep: int, history: list[Any], state: dict[str, Any], inp: dict[str, float]
) -> tuple[str, float]:
    return "demand", state["demand"] * inp["demand_factor"]


def run_radcad(runs: int, days: int) -> dict[str, np.ndarray]:
    """The model in radCAD (default backend); returns (days, runs) paths at timesteps 1..days."""
    from radcad import Experiment, Model, Simulation

    model = Model(
        initial_state={"demand": D0, "price": P0, "supply": S0, "minted": 0.0, "burned": 0.0},
        state_update_blocks=[
            {
                "policies": {"mint_burn": _p_mint_and_burn},
                "variables": {"minted": _s_minted, "burned": _s_burned, "supply": _s_supply},
            },
            {"policies": {"market": _p_market}, "variables": {"price": _s_price, "demand": _s_demand}},
        ],
        params={},
    )
    rows = Experiment([Simulation(model=model, timesteps=days, runs=runs)]).run()
    out = {name: np.zeros((days, runs)) for name in ("supply", "burned", "minted", "demand_next")}
    for row in rows:
        if row["substep"] != 2 or row["timestep"] == 0:
            continue
        t, r = row["timestep"] - 1, row["run"] - 1
        out["supply"][t, r] = row["supply"]
        out["burned"][t, r] = row["burned"]
        out["minted"][t, r] = row["minted"]
        out["demand_next"][t, r] = row["demand"]
    # radCAD's demand at timestep k is D_k (used on day k); ours records D_t of day t.
    out["demand"] = np.vstack([np.full((1, runs), D0), out["demand_next"][:-1]])
    return out


def compute_z_scores(
    ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], points: list[int]
) -> dict[str, float]:
    """Largest |z| of the difference of means per variable at the given days (Monte Carlo error)."""
    worst = {}
    for name in ("supply", "burned", "minted", "demand"):
        a, b = ours[name][points], theirs[name][points]
        se = np.sqrt(a.var(axis=1, ddof=1) / a.shape[1] + b.var(axis=1, ddof=1) / b.shape[1])
        diff = np.abs(a.mean(axis=1) - b.mean(axis=1))
        scale = np.abs(a.mean(axis=1)) + 1e-9
        random = se > 1e-7 * scale  # deterministic paths (minted) are compared to float32 precision instead
        z = np.where(random, diff / np.where(random, se, 1.0), np.where(diff <= 1e-6 * scale, 0.0, np.inf))
        worst[name] = float(z.max())
    return worst


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--big-runs", type=int, default=BIG_RUNS)
    args = parser.parse_args(argv)
    try:
        import radcad  # noqa: F401
    except ImportError:
        print(
            "radcad is not installed; it is the baseline of this benchmark. Install it without letting pip "
            "downgrade numpy (radcad pins numpy<1.26.4 but runs on numpy 2): "
            "`.venv/bin/pip install --no-deps radcad pathos multiprocess dill ppft pox fn-py py pandas`, "
            "then run again.",
            file=sys.stderr,
        )
        return 2

    run_ours(10, 30, seed=0)  # warm-up: imports, first-call costs
    ours_times: list[float] = []
    ours: dict[str, np.ndarray] = {}
    for attempt in range(3):
        start = time.perf_counter()
        ours = run_ours(args.runs, args.days, seed=attempt)
        ours_times.append(time.perf_counter() - start)
    ours_time = min(ours_times)
    tries = ", ".join(f"{t:.3f}" for t in ours_times)
    print(f"ours:   {args.runs} runs × {args.days} days in {ours_time:.3f} s (best of 3: {tries})")
    radcad_time, theirs = _timed(lambda: run_radcad(args.runs, args.days))
    print(f"radCAD: {args.runs} runs × {args.days} days in {radcad_time:.2f} s ({RADCAD_BASELINE_NOTE})")
    ratio = radcad_time / ours_time
    print(f"ratio:  {ratio:.0f}× faster (bar: ≥ {RATIO_BAR}×)")
    big_time, _ = _timed(lambda: simulate((bme_scenario(3_650),), args.big_runs, seed=7))
    print(f"ours:   {args.big_runs} runs × 10 years in {big_time:.2f} s (bar: < 60 s)")
    points = [d - 1 for d in range(365, args.days + 1, 365)] or [args.days - 1]
    z = compute_z_scores(ours, theirs, points)
    print(
        "agreement of mean paths at yearly points, max |z| per variable: "
        + ", ".join(f"{k} {v:.2f}" for k, v in z.items())
        + f" (bar: < {Z_LIMIT})"
    )
    growth = load_scenario("growth")
    growth_time, _ = _timed(lambda: simulate((growth,), growth.runs, seed=growth.seed))
    print(
        f"ours:   growth scenario (devices + reward policy), {growth.runs} runs × {growth.days} days "
        f"in {growth_time:.2f} s (no bar)"
    )
    ok = ratio >= RATIO_BAR and big_time < 60 and max(z.values()) < Z_LIMIT
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
