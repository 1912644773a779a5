"""The named scenarios of `depin simulate compute`: the strategies each runs at the network's parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.sim.engine import engine_run
from opendepin.sectors.compute.sim.freerider import free_rider
from opendepin.sectors.compute.sim.model import (
    Economy,
    capacity_liar,
    closed_form,
    deposit,
    honest_baseline,
    job_price,
    keep,
    provider_strategy,
)

COLLUSION_SHARE = 0.3
OVERCLAIMS = (1.05, 1.25, 1.5, 2.0)


def _with_engine(row: dict[str, Any], skip: float, e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    """The strategy measured through `evaluate_compute` as well (real jobs and results)."""
    row["engine"] = engine_run(skip, p, seed, pairs=min(150, e.providers), units=e.units, price=e.price)
    return row


def _lazy(e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    return {"lazy": _with_engine(provider_strategy("lazy", 1.0, e, p, seed), 1.0, e, p, seed)}


def _partial(e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    out = {"partial_95": _with_engine(provider_strategy("partial_95", 0.05, e, p, seed), 0.05, e, p, seed)}
    out["partial_99"] = provider_strategy("partial_99", 0.01, e, p, seed)
    return out


def _colluding(e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    out = {}
    for replicas in (2, 3):
        ring = replace(e, replicas=replicas, collusion_share=COLLUSION_SHARE)
        for name, skip in (("lazy", 1.0), ("partial_95", 0.05)):
            row = provider_strategy(f"colluding_{name}_r{replicas}", skip, ring, p, seed)
            row["all_replicas_colluding"] = COLLUSION_SHARE**replicas
            row["undetected_by_replicas_alone"] = COLLUSION_SHARE ** (replicas - 1)
            row["verification_cost_factor"] = replicas
            out[f"colluding_{name}_r{replicas}"] = row
    return out


def _capacity(e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    hours = 24 * 30
    return {f"overclaim_{m:g}x": capacity_liar(m, p, seed, e.providers, hours) for m in OVERCLAIMS}


def _free_rider(e: Economy, p: ComputeParams, seed: int) -> dict[str, Any]:
    return {"free_rider_tenant": free_rider(p, seed, units=e.units, price=e.price)}


SCENARIOS: dict[str, list[Callable[[Economy, ComputeParams, int], dict[str, Any]]]] = {
    "honest": [],
    "lazy": [_lazy],
    "partial": [_partial],
    "colluding": [_colluding],
    "capacity-liar": [_capacity],
    "free-rider": [_free_rider],
    "all": [_lazy, _partial, _colluding, _capacity, _free_rider],
}


def run(scenario: str, e: Economy, params: ComputeParams, seed: int) -> dict[str, Any]:
    """One scenario: the honest baseline, then each strategy's figures (`expected_value` is the strategy's
    expected credits per job minus an honest provider's; capacity liars: per hour, as a share of the honest
    availability pay; the free rider: the tenant's net credits per order)."""
    strategies: dict[str, Any] = {}
    for part in SCENARIOS[scenario]:
        strategies.update(part(e, params, seed))
    v = params.verify
    break_even = v.spot_checks * (keep(e, params) + deposit(e, params)) / (e.cost * e.units)
    return {
        "scenario": scenario,
        "seed": seed,
        "economy": {
            "units": e.units,
            "price_per_unit": e.price,
            "cost_per_unit": e.cost,
            "job_price": job_price(e),
            "job_cost": e.cost * e.units,
            "provider_keeps": keep(e, params),
            "bid_deposit": deposit(e, params),
            "take_bps": params.market.take_bps,
            "spot_checks": v.spot_checks,
            "providers": e.providers,
            "jobs_per_provider": e.jobs,
        },
        "honest": honest_baseline(e, params, seed),
        "strategies": strategies,
        "small_skip_condition": {
            "rule": "cheating on a small share c loses iff s·((1 − τ)·P + S) > C",
            "ratio": break_even,
            "holds": break_even > 1,
            "expected_value_closed_form_at_c_1pct": closed_form(e, 0.01, params)["expected_value"],
        },
        "all_cheating_negative": all(row["expected_value"] < 0 for row in strategies.values()),
    }
