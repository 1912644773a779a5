"""Named scenarios: each adversary is built as described, and the detection bar holds on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.sectors.wireless.sim.runner import RunResult, run_scenario
from opendepin.sectors.wireless.sim.scenarios import ADVERSARY_KINDS, SCENARIOS, build_fleet

BAR_LEAKAGE = 0.02
BAR_FPR = 0.01


def test_every_named_scenario_exists() -> None:
    assert set(SCENARIOS) == {"honest", "mixed", *ADVERSARY_KINDS}
    assert set(SCENARIOS["mixed"]) == set(ADVERSARY_KINDS)
    with pytest.raises(ValueError, match="unknown scenario"):
        build_fleet("nope", 10, 0)


def test_adversaries_are_built_as_described() -> None:
    fleet = build_fleet("mixed", 2_000, seed=4)
    roles = np.array(fleet.roles)
    assert int(fleet.adversarial.sum()) == 300
    offsets = np.linalg.norm(fleet.real_xy - fleet.asserted_xy, axis=1)
    spoofed = offsets[roles == "gps-spoof"]
    assert spoofed.min() > 2_000 and np.median(spoofed) > 8_000
    assert offsets[roles == "honest"].max() < 20
    assert not fleet.has_radio[roles == "witness-ring"].any()
    assert {fleet.owners[k] for k in np.flatnonzero(roles == "wallet-farm")} == {"farm-wallet"}
    for op in fleet.relays:
        far = np.linalg.norm(fleet.real_xy[op.capture] - np.array(op.transmitter_xy))
        assert far > 15_000
    cluster = np.flatnonzero(roles == "hex-cluster")
    assert np.ptp(fleet.real_xy[cluster[:5]], axis=0).max() < 300


def test_runs_are_reproducible() -> None:
    first = run_scenario("mixed", 300, 1, seed=9).as_dict()
    assert first == run_scenario("mixed", 300, 1, seed=9).as_dict()


def _assert_bar(result: RunResult) -> None:
    ours, base = result.detection, result.baseline
    assert ours.leakage < BAR_LEAKAGE, result.as_dict()
    assert ours.false_positive_rate < BAR_FPR, result.as_dict()
    assert ours.sparse_honest_rewarded >= base.sparse_honest_rewarded - 0.1


@pytest.mark.parametrize("scenario", ["honest", "gps-spoof", "witness-ring", "beacon-relay", "wallet-farm"])
def test_bar_holds_at_1000_hotspots(scenario: str) -> None:
    result = run_scenario(scenario, 1_000, 2, seed=7)
    _assert_bar(result)
    if scenario != "honest":
        assert result.baseline.leakage > 0.1
        assert result.detection.recall > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["mixed", "hex-cluster"])
def test_bar_holds_at_2000_hotspots(scenario: str) -> None:
    result = run_scenario(scenario, 2_000, 3, seed=7)
    _assert_bar(result)
    assert result.baseline.leakage > 5 * result.detection.leakage
