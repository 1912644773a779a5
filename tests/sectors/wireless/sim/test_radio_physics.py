"""Radio physics of the fleet simulator: who hears whom follows distance, gains and sensitivity."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.sectors.base import EpochWindow
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import (
    RadioPhysics,
    compute_fspl_db,
    compute_path_loss_db,
    compute_received_dbm,
)
from opendepin.sectors.wireless.sim.runner import GENESIS, build_registry
from opendepin.sectors.wireless.sim.scenarios import build_fleet

PHYSICS = RadioPhysics()


def test_path_loss_grows_10n_db_per_decade() -> None:
    loss = compute_path_loss_db(np.array([100.0, 1_000.0, 10_000.0]), PHYSICS)
    assert np.diff(loss).tolist() == pytest.approx([35.0, 35.0])
    assert loss[0] == pytest.approx(40.0 + 70.0)


def test_log_distance_loss_exceeds_free_space_beyond_a_few_metres() -> None:
    distance = np.array([50.0, 500.0, 5_000.0])
    assert (compute_path_loss_db(distance, PHYSICS) > compute_fspl_db(distance, 915e6)).all()


def test_received_power_adds_gains_and_subtracts_losses() -> None:
    rssi = compute_received_dbm(
        np.array([27.0]),
        np.array([6.0]),
        np.array([-1.0]),
        np.array([1_000.0]),
        np.array([2.0]),
        np.array([0.5]),
        PHYSICS,
    )
    assert rssi[0] == pytest.approx(27 + 6 - 1 - (40 + 105) - 2 - 0.5)


def test_honest_hearing_falls_off_with_distance() -> None:
    fleet = build_fleet("honest", 600, seed=5)
    rng = np.random.default_rng(6)
    links = build_radio_links(fleet, PHYSICS, rng)
    log = simulate_epoch(
        fleet, links, EpochWindow(0, GENESIS, GENESIS + 86_400), PHYSICS, PocParams(), rng, 5
    )
    index = {d: k for k, d in enumerate(fleet.ids)}
    distances = np.array(
        [
            np.linalg.norm(
                fleet.real_xy[index[r.device_id]] - fleet.real_xy[index[str(r.payload["beaconer"])]]
            )
            for r in log.reports
            if r.kind == "wireless.witness"
        ]
    )
    assert len(distances) > 1_000
    near = np.count_nonzero(distances < 1_000) / max(1, np.count_nonzero(links.distance_m < 1_000))
    far = np.count_nonzero(distances > 4_000) / max(1, np.count_nonzero(links.distance_m > 4_000))
    assert near > 10 * far
    assert distances.max() < PHYSICS.max_range_m(16.0)


def test_radio_links_are_symmetric_in_shadowing() -> None:
    fleet = build_fleet("honest", 200, seed=1)
    links = build_radio_links(fleet, PHYSICS, np.random.default_rng(2))
    shadow = {
        (int(a), int(b)): float(s) for a, b, s in zip(links.src, links.dst, links.shadowing_db, strict=True)
    }
    assert all(shadow[(b, a)] == value for (a, b), value in shadow.items())


def test_registry_carries_assertions_and_gains() -> None:
    fleet = build_fleet("gps-spoof", 200, seed=3)
    registry = build_registry(fleet)
    spoofer = fleet.roles.index("gps-spoof")
    info = registry[fleet.ids[spoofer]]
    assert info.location == fleet.asserted[spoofer]
    assert info.attributes["gain_dbi"] == fleet.gain_dbi[spoofer]
