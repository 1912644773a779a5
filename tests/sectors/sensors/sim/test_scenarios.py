"""The headless simulator: honest stations are not flagged, every cheater is, and cheaters are not paid."""

from __future__ import annotations

from opendepin.sectors.sensors.sim.runner import behaviours_for, run_scenario
from opendepin.sectors.sensors.sim.world import HONEST


def test_mixed_scenario_catches_every_kind_of_cheater() -> None:
    result = run_scenario("mixed", 48, 1, 5)
    scores = result.scores
    assert scores["false_positive_rate"] == 0.0
    assert scores["recall"] == 1.0
    assert scores["leakage"] < 0.03
    for kind, row in result.by_behaviour.items():
        if kind not in (HONEST, "crowded"):
            assert row["pay_vs_honest"] == 0.0, kind
    assert result.by_behaviour["crowded"]["pay_vs_honest"] < 0.3  # a roof shares one station's slot
    assert result.by_behaviour[HONEST]["pay_vs_honest"] == 1.0


def test_runs_are_reproducible() -> None:
    a, b = run_scenario("clone", 24, 1, 3), run_scenario("clone", 24, 1, 3)
    assert a.as_dict() == b.as_dict()


def test_behaviours_are_spread() -> None:
    kinds = behaviours_for("mixed", 100, 0.1)
    assert kinds.count(HONEST) >= 80 and len(set(kinds)) == 8
