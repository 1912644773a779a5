"""Attackers who read the docs, at small scale: what detection does to them, and the adaptive adversary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from opendepin.sectors.wireless.sim import runner
from opendepin.sectors.wireless.sim.metrics import Scores
from opendepin.sectors.wireless.sim.runner import ALL_KINDS, run_scenario


def test_a_faithful_ring_spread_over_wallets_is_paid_only_the_uncorroborated_share() -> None:
    result = run_scenario("faithful-ring", 400, 1, seed=5)
    assert result.adversaries == 60
    assert result.baseline.adversary_pay_ratio > 0.3  # the rules alone pay the ring
    assert result.detection.adversary_pay_ratio < 0.1 * result.baseline.adversary_pay_ratio
    assert result.detection.false_positive_rate < 0.01


def test_a_late_cheater_is_scored_on_its_cheating_epochs() -> None:
    result = run_scenario("late-cheater", 300, 2, seed=3)
    assert result.scored_from_epoch == 1
    assert result.detection.adversary_pay_ratio < result.baseline.adversary_pay_ratio


def _scores(ratio: float) -> Scores:
    return Scores(0.0, 1.0, 1.0, 0.0, 0, 1.0, ratio)


def test_the_adaptive_adversary_plays_what_its_pilot_paid_best(monkeypatch: pytest.MonkeyPatch) -> None:
    pilot_ratio = {kind: 0.1 * k for k, kind in enumerate(ALL_KINDS)}
    pilot_ratio["hex-spoof"] = 5.0
    calls: list[tuple[str, int]] = []

    def fake(scenario: str, devices: int, epochs: int, seed: int, *args: object) -> runner.RunResult:
        calls.append((scenario, devices))
        return runner.RunResult(
            scenario, "n", devices, 1, epochs, seed, _scores(pilot_ratio[scenario]), _scores(1.0), 0
        )

    monkeypatch.setattr(runner, "run_scenario", fake)
    result = runner.run_adaptive(1_000, 3, 7)
    assert result.scenario == "adaptive" and result.strategy == "hex-spoof"
    assert result.pilot == pilot_ratio
    assert calls[-1] == ("hex-spoof", 1_000)
    assert {c for c, n in calls if n == runner.PILOT_DEVICES} == set(ALL_KINDS)
    assert replace(result, pilot={}).as_dict()["adversary_pay_ratio"] == 5.0
