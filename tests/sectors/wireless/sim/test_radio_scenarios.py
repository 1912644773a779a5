"""Named scenarios: each adversary is built as described, and the detection bar holds on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.sectors.wireless.sim.behaviour import compute_pair_shadowing_db
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.runner import (
    ONBOARDED_BEFORE_S,
    SPREAD_S,
    RunResult,
    build_registry,
    onboarding_times,
    run_scenario,
)
from opendepin.sectors.wireless.sim.scenarios import (
    ADAPTIVE,
    ADVERSARY_KINDS,
    BUILDING,
    INFORMED_KINDS,
    SCENARIOS,
    build_fleet,
)

BAR_LEAKAGE = 0.02
BAR_FPR = 0.01


def test_every_named_scenario_exists() -> None:
    assert set(SCENARIOS) == {
        "honest",
        "mixed",
        "informed-mixed",
        BUILDING,
        ADAPTIVE,
        *ADVERSARY_KINDS,
        *INFORMED_KINDS,
    }
    assert set(SCENARIOS["mixed"]) == set(ADVERSARY_KINDS)
    assert set(SCENARIOS["informed-mixed"]) == set(INFORMED_KINDS)
    for name in ("nope", ADAPTIVE):  # the adaptive adversary is the runner's, not a fleet
        with pytest.raises(ValueError, match="unknown scenario"):
            build_fleet(name, 10, 0)


def _nearest(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    return np.array([np.sqrt(((others - p) ** 2).sum(axis=1)).min() for p in points])


def test_informed_adversaries_are_built_as_described() -> None:
    fleet = build_fleet("informed-mixed", 1_000, seed=4)
    roles = np.array(fleet.roles)
    owners = np.array(fleet.owners)
    honest_radios = fleet.real_xy[(roles == "honest") & fleet.has_radio]
    ring = roles == "faithful-ring"
    bridged = roles == "bridged-ring"
    assert ring.sum() and fleet.virtual[ring].all() and not fleet.virtual[~(ring | bridged)].any()
    assert len(set(owners[ring])) > ring.sum() / 2.5  # one or two hotspots a wallet
    assert np.median(_nearest(fleet.real_xy[ring], honest_radios)) > 5_000  # out of honest hearing
    split = roles == "wallet-split"
    assert np.ptp(fleet.real_xy[split], axis=0).max() < 200  # one site
    assert len(set(owners[split])) == min(50, int(split.sum()))
    spread = np.linalg.norm(fleet.asserted_xy[split] - fleet.real_xy[split], axis=1)
    assert spread.min() > 1_300 and spread.max() < 5_200
    spoof = roles == "hex-spoof"
    offsets = np.linalg.norm(fleet.asserted_xy[spoof] - fleet.real_xy[spoof], axis=1)
    assert offsets.max() < 1_000 and np.median(offsets) > 300
    assert _nearest(fleet.real_xy[spoof], honest_radios).max() <= 50.5
    late = roles == "late-cheater"
    assert (fleet.cheat_from[late] == 1).all() and (fleet.cheat_from[~late] == 0).all()
    first, later = fleet.at_epoch(0), fleet.at_epoch(1)
    assert first.asserted == fleet.asserted
    moved = np.linalg.norm(later.asserted_xy[late] - first.asserted_xy[late], axis=1)
    assert moved.min() > 7_000
    assert [a for a, m in zip(later.asserted, late, strict=True) if not m] == [
        a for a, m in zip(fleet.asserted, late, strict=True) if not m
    ]
    assert fleet.verifier.sum() > 0 and not fleet.verifier[fleet.adversarial].any()


def test_a_virtual_ring_hears_only_itself() -> None:
    fleet = build_fleet("faithful-ring", 600, seed=3)
    links = build_radio_links(fleet, RadioPhysics(), np.random.default_rng(0))
    virtual = fleet.virtual
    mixed = virtual[links.src] != virtual[links.dst]
    assert not mixed.any()
    ring_links = virtual[links.src]
    assert ring_links.any()
    assert (fleet.group[links.src[ring_links]] == fleet.group[links.dst[ring_links]]).all()


def test_a_bridged_ring_hangs_on_one_real_radio_near_honest_ones() -> None:
    fleet = build_fleet("bridged-ring", 600, seed=3)
    roles = np.array(fleet.roles)
    bridged = np.flatnonzero(roles == "bridged-ring")
    bridges = bridged[fleet.has_radio[bridged]]
    assert len(bridges) == len(set(fleet.group[bridged].tolist())) >= 2  # one radio per ring
    honest_radios = fleet.real_xy[(roles == "honest") & fleet.has_radio]
    assert np.median(_nearest(fleet.real_xy[bridges], honest_radios)) <= 3_000.5  # (map edges clip some)
    assert fleet.virtual[bridged].sum() == len(bridged) - len(bridges)
    links = build_radio_links(fleet, RadioPhysics(), np.random.default_rng(0))
    virtual = fleet.virtual
    touching = virtual[links.src] | virtual[links.dst]
    assert (fleet.group[links.src[touching]] == fleet.group[links.dst[touching]]).all()
    with_bridge = touching & (np.isin(links.src, bridges) | np.isin(links.dst, bridges))
    assert with_bridge.any()  # the bridge forges its links with its own ring
    honest_side = np.isin(links.src, bridges) & ~virtual[links.dst]
    assert honest_side.any()  # and hears real radios truly


def test_forged_shadowing_is_static_and_symmetric() -> None:
    a = compute_pair_shadowing_db(3, np.array([5, 9, 11]), 6.0, 7)
    b = np.array([compute_pair_shadowing_db(k, np.array([3]), 6.0, 7)[0] for k in (5, 9, 11)])
    assert np.array_equal(a, b)
    many = compute_pair_shadowing_db(1, np.arange(2, 4_002), 6.0, 7)
    assert abs(many.mean()) < 0.5 and 5.5 < many.std() < 6.5


def test_buildings_pack_honest_hotspots_of_different_owners() -> None:
    fleet = build_fleet(BUILDING, 500, seed=2)
    assert not fleet.adversarial.any()
    tenants = [k for k, owner in enumerate(fleet.owners) if owner.startswith("tenant-")]
    assert len(tenants) == 50 and len({fleet.owners[k] for k in tenants}) == 50
    first = fleet.real_xy[tenants[0]]
    close = _nearest(fleet.real_xy[tenants], first[None, :])
    assert (close <= 100.0).sum() >= 10


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
        # Silence needs three neighbouring owners and too-close links blame nobody (fewer honest hotspots
        # flagged): a few spoofers go unflagged (gps-spoof, seed 7: recall 0.79), but earn next to nothing.
        assert result.detection.recall > 0.75
        assert result.detection.adversary_pay_ratio < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["mixed", "hex-cluster"])
def test_bar_holds_at_2000_hotspots(scenario: str) -> None:
    result = run_scenario(scenario, 2_000, 3, seed=7)
    _assert_bar(result)
    # hex-cluster: 9.20 % by the rules alone, 1.91 % with detection (1.25 % before owner colocation needed
    # the fits to place the hotspots elsewhere with confidence, which cleared honest three-hotspot owners)
    assert result.baseline.leakage > 4 * result.detection.leakage


def test_onboarding_times_same_spread_and_sleepers() -> None:
    """`same`: one time for all; `spread`: within the year before the first epoch, reproducible from the
    seed, differing between seeds; `sleepers`: every adversary older than every honest hotspot."""
    fleet = build_fleet("bridged-ring", 400, seed=5)
    start = 10_000_000_000
    same = onboarding_times(fleet, start, 5, "same")
    assert set(same.values()) == {start - ONBOARDED_BEFORE_S}
    spread = onboarding_times(fleet, start, 5, "spread")
    assert spread == onboarding_times(fleet, start, 5, "spread")
    assert spread != onboarding_times(fleet, start, 6, "spread")
    latest = start - ONBOARDED_BEFORE_S
    assert all(latest - SPREAD_S < t <= latest for t in spread.values())
    assert len(set(spread.values())) > 0.99 * len(spread)
    sleepers = onboarding_times(fleet, start, 5, "sleepers")
    adversaries = [d for d, adv in zip(fleet.ids, fleet.adversarial.tolist(), strict=True) if adv]
    honest = [d for d, adv in zip(fleet.ids, fleet.adversarial.tolist(), strict=True) if not adv]
    assert adversaries and max(sleepers[d] for d in adversaries) < min(sleepers[d] for d in honest)
    assert all(sleepers[d] == spread[d] for d in honest)
    with pytest.raises(ValueError, match="onboarding must be one of"):
        onboarding_times(fleet, start, 5, "later")


def test_a_run_records_its_onboarding_and_the_registry_carries_it() -> None:
    fleet = build_fleet("honest", 50, seed=1)
    times = onboarding_times(fleet, 10_000_000_000, 1, "spread")
    registry = build_registry(fleet, times)
    assert {d: info.onboarded_at for d, info in registry.items()} == times
    result = run_scenario("bridged-ring", 300, 1, seed=9, onboarding="spread").as_dict()
    assert result["onboarding"] == "spread"
    assert result == run_scenario("bridged-ring", 300, 1, seed=9, onboarding="spread").as_dict()
