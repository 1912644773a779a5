"""Cheating strategies against the compute sector's rules, by Monte Carlo and in closed form.

Every figure is per job (one run of one lease) in data credits unless it says otherwise. A job has n
units at price p per unit (P = p·n) and costs its provider k per unit (C = k·n); the provider keeps
(1 − τ)·P (τ the take rate) and puts up the bid deposit S = market.required_deposit(p, n, ...). A cheater
skips w = ⌈c·n⌉ units (random outputs there) and saves w·k.

Detection: the engine recomputes s units drawn with `challenges.spot_units` from an audit seed drawn after
the result arrived, or with probability q (`verify.reexec_bps`) every unit, so it catches a result with
w > 0 wrong units with probability
    p_spot = q + (1 − q) · (1 − C(n − w, s) / C(n, s))      (hypergeometric: s distinct units);
with r replicas, bisection against any honest replica finds a wrong unit whenever w > 0, so a colluder
(share a of the providers, replicas of one owner excluded) escapes only when every other replica colludes:
    p = 1 − (1 − p_spot) · a^(r − 1).
Caught: no pay, deposit slashed, a fraud event in the reputation (two from a clean record disqualify).
One job's expected value against honest work (spec §3, with the take):
    ΔEV = w·k − p · ((1 − τ)·P + S)       (< 0 iff cheating does not pay).
The Monte Carlo draws the same events job by job (the real `spot_units` over random seeds), and also runs
whole provider lifetimes with the real reputation rule, giving the pay of a cheater relative to an honest
provider, jobs to the first penalty and to disqualification.

Capacity liar: real speed R, claim m·R. The count of solutions in `work_s` is Poisson(E / m) (E the
expected solutions at the claim); a pass needs `min_solutions` and shows count · m·R / E; pay needs
`min_streak` consecutive passes. Per hour (stationary):
    pay(m) = (m·R / E) · E[N · 1{N ≥ min}] · P(N ≥ min)^(min_streak − 1),   N ~ Poisson(E / m).
Free-rider tenant: funds the order deposit only, hoping providers run unfunded runs. Providers run only
covered runs (the engine enforces deadlines only on them); after the funding window the order closes with
`compute.insufficient_funds` and the deposit pays the providers that waited. Simulated with the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from opendepin.sectors.compute import market
from opendepin.sectors.compute.challenges import reexecuted, spot_units
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reputation import Reputation

BPS = 10_000


@dataclass(frozen=True, slots=True)
class Economy:
    """The job market the strategies face."""

    units: int = 32
    price: int = 12
    """credits per unit the provider bid"""
    cost: int = 10
    """credits per unit an honest run costs the provider (power, hardware time)"""
    replicas: int = 1
    collusion_share: float = 0.0
    jobs: int = 400
    """jobs in a provider's life (its reputation carries over them)"""
    providers: int = 200


def job_price(e: Economy) -> int:
    return e.price * e.units


def deposit(e: Economy, params: ComputeParams) -> int:
    m = params.market
    return market.required_deposit(e.price, e.units, m.deposit_bps, m.min_deposit)


def keep(e: Economy, params: ComputeParams) -> int:
    """What a paid job leaves the provider after the take."""
    return market.split_take(job_price(e), params.market.take_bps)[0]


def spot_probability(units: int, wrong: int, checks: int) -> float:
    """p_spot = 1 − C(n − w, s) / C(n, s)."""
    s = min(checks, units)
    return 1.0 - math.comb(units - wrong, s) / math.comb(units, s)


def detection_probability(e: Economy, wrong: int, params: ComputeParams) -> float:
    q = params.verify.reexec_bps / BPS
    p_spot = q * (wrong > 0) + (1 - q) * spot_probability(e.units, wrong, params.verify.spot_checks)
    if e.replicas <= 1 or wrong == 0:
        return p_spot
    return 1.0 - (1.0 - p_spot) * e.collusion_share ** (e.replicas - 1)


def closed_form(e: Economy, skip: float, params: ComputeParams) -> dict[str, float]:
    wrong = math.ceil(skip * e.units)
    p = detection_probability(e, wrong, params)
    saved = wrong * e.cost
    ev = saved - p * (keep(e, params) + deposit(e, params))
    return {"wrong_units": wrong, "detection_rate": p, "expected_value": ev}


def _caught(e: Economy, wrong: set[int], params: ComputeParams, rng: np.random.Generator) -> bool:
    audit, report = rng.bytes(32).hex(), rng.bytes(32).hex()
    if wrong and reexecuted(audit, report, params.verify.reexec_bps):
        return True
    if any(u in wrong for u in spot_units(audit, report, e.units, params.verify.spot_checks)):
        return True
    if e.replicas > 1 and wrong:
        partners_collude = all(rng.random() < e.collusion_share for _ in range(e.replicas - 1))
        return not partners_collude
    return False


def provider_strategy(name: str, skip: float, e: Economy, params: ComputeParams, seed: int) -> dict[str, Any]:
    """Monte Carlo of one strategy: per-job expected value against honest work (one-shot, no reputation)
    and whole lives under the reputation rule, next to the closed form."""
    rng = np.random.default_rng([seed, int(skip * 1e6), e.replicas])
    honest_job = keep(e, params) - e.cost * e.units
    form = closed_form(e, skip, params)
    wrong_count = int(form["wrong_units"])
    rep = params.reputation
    diffs: list[float] = []
    lives: list[float] = []
    first_penalty: list[int] = []
    to_dq: list[int] = []
    caught_jobs = detected = 0
    for _ in range(e.providers):
        reputation = Reputation.new(rep.alpha0)
        life, first, dq = 0, -1, -1
        for job in range(e.jobs):
            wrong = (
                set(rng.choice(e.units, size=wrong_count, replace=False).tolist()) if wrong_count else set()
            )
            caught = _caught(e, wrong, params, rng)
            payoff = (-deposit(e, params) if caught else keep(e, params)) - (e.units - wrong_count) * e.cost
            diffs.append(payoff - honest_job)
            detected += caught
            if dq < 0:
                life += payoff
                if caught:
                    caught_jobs += 1
                    first = job if first < 0 else first
                    reputation = reputation.record(False, rep.fraud_weight, rep.decay_ppm)
                else:
                    reputation = reputation.record(True, rep.success_weight, rep.decay_ppm)
                if reputation.score_ppm <= rep.dq_ppm:
                    dq = job
        lives.append(life)
        first_penalty.append(first)
        to_dq.append(dq)
    mean = float(np.mean(diffs))
    stderr = float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else 0.0
    honest_life = honest_job * e.jobs
    penalised = [f for f in first_penalty if f >= 0]
    disqualified = [d for d in to_dq if d >= 0]
    return {
        "strategy": name,
        "skip_share": skip,
        "wrong_units": wrong_count,
        "expected_value": mean,
        "expected_value_closed_form": form["expected_value"],
        "monte_carlo_stderr": stderr,
        "within_monte_carlo_error": abs(mean - form["expected_value"]) <= 4 * stderr + 1e-9,
        "detection_rate": detected / len(diffs),
        "detection_rate_closed_form": form["detection_rate"],
        "lifetime_pay_vs_honest": float(np.mean(lives)) / honest_life if honest_life else 0.0,
        "jobs_to_first_penalty_median": float(np.median(penalised)) + 1 if penalised else None,
        "jobs_to_disqualification_median": float(np.median(disqualified)) + 1 if disqualified else None,
        "disqualified_share": len(disqualified) / e.providers,
        "penalties": caught_jobs,
    }


def honest_baseline(e: Economy, params: ComputeParams, seed: int) -> dict[str, Any]:
    """Honest providers: outputs equal to the recomputation, so no spot check or bisection can fail them
    (measured over the same draws)."""
    run = provider_strategy("honest", 0.0, e, params, seed)
    return {
        "expected_value_per_job": keep(e, params) - e.cost * e.units,
        "false_positive_rate": run["penalties"] / (e.providers * e.jobs),
        "disqualified_share": run["disqualified_share"],
        "jobs": e.providers * e.jobs,
    }


def poisson_tail_mean(mean: float, low: int) -> tuple[float, float]:
    """(P(N ≥ low), E[N · 1{N ≥ low}]) for N ~ Poisson(mean)."""
    from scipy.stats import poisson

    p_pass = float(poisson.sf(low - 1, mean))
    # E[N 1{N ≥ low}] = mean · P(N ≥ low − 1)
    return p_pass, mean * float(poisson.sf(low - 2, mean))


def capacity_liar(
    overclaim: float, params: ComputeParams, seed: int, providers: int, hours: int
) -> dict[str, Any]:
    """A provider of real speed R = 1 claiming `overclaim`, against one claiming the truth: pay per hour
    (streak rule included), with common random numbers; and the closed form."""
    from scipy.stats import poisson

    c = params.capacity
    e, low, streak_needed = c.expected_solutions, c.min_solutions, c.min_streak
    rng = np.random.default_rng([seed, int(overclaim * 1000)])
    u = rng.random((providers, hours))
    results = {}
    for label, claim in (("truthful", 1.0), ("liar", overclaim)):
        counts = poisson.ppf(u, e / claim)
        passed = counts >= low
        streak = np.zeros(providers, dtype=np.int64) + streak_needed  # in steady state
        pay = np.zeros(providers)
        fails = 0
        first_fail = np.full(providers, -1)
        for hour in range(hours):
            ok = passed[:, hour]
            streak = np.where(ok, streak + 1, 0)
            pay += np.where(ok & (streak >= streak_needed), counts[:, hour] * claim / e, 0.0)
            fails += int((~ok).sum())
            first_fail = np.where((first_fail < 0) & ~ok, hour, first_fail)
        p_pass, tail = poisson_tail_mean(e / claim, low)
        form = (claim / e) * tail * p_pass ** (streak_needed - 1)
        results[label] = {
            "pay_per_hour": pay / hours,
            "fail_rate": fails / (providers * hours),
            "form": form,
            "p_fail": 1 - p_pass,
            "first_fail": first_fail,
        }
    diff = results["liar"]["pay_per_hour"] - results["truthful"]["pay_per_hour"]
    mean, stderr = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(providers))
    form = results["liar"]["form"] - results["truthful"]["form"]
    first = results["liar"]["first_fail"]
    return {
        "strategy": f"overclaim_{overclaim:g}x",
        "overclaim": overclaim,
        "expected_value": mean,
        "expected_value_closed_form": form,
        "monte_carlo_stderr": stderr,
        "within_monte_carlo_error": abs(mean - form) <= 4 * stderr + 1e-6,
        "units": "share of an honest provider's availability pay per hour",
        "detection_rate": results["liar"]["fail_rate"],
        "detection_rate_closed_form": results["liar"]["p_fail"],
        "false_positive_rate": results["truthful"]["fail_rate"],
        "hours_to_first_penalty_median": float(np.median(first[first >= 0])) + 1
        if (first >= 0).any()
        else None,
        "pay_vs_honest": float(
            results["liar"]["pay_per_hour"].mean() / results["truthful"]["pay_per_hour"].mean()
        ),
    }
