"""`depin up` on the example compute network with an embedded chain: the fleet's users (tenants) buy credits
from the treasury, escrow them and post signed orders, the providers' owners bond, providers bid, the winners
run the jobs and deliver, and the epoch settles the leases from escrow, so `compute_usage` pays providers
(less the take); lazy providers that win a lease are caught by the spot checks; the epoch recomputes."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.config import load_config
from opendepin.fleet.simulator import Fleet
from opendepin.sectors.compute.sim.simulation import LAZY
from opendepin.store.factory import open_store
from opendepin.up import UpOptions, run_network

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "compute.toml"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    data = tmp_path_factory.mktemp("compute-market") / "net"
    options = UpOptions(
        data_dir=data, epochs=1, devices=12, misbehaving_share=0.4, network=EXAMPLE, chain="embedded"
    )
    return data, run_network(options)


def test_tenants_orders_are_leased_run_and_paid_from_escrow(network: tuple[Path, dict[str, object]]) -> None:
    data, _ = network
    config = load_config(data / "network.toml")
    fleet = Fleet.load(data / "fleet.json", network=config)
    behaviour = {fleet.key_of(d).device_id: d.behaviour for d in fleet.devices}
    store = open_store(config.store, data)
    try:
        record = store.get_epoch(0)
        detail = store.get_epoch_detail(0)
        assert record is not None and detail is not None
    finally:
        store.close()
    state = record.sector_state["compute"]
    orders = state["orders"]
    done = [o for o in orders.values() if o["status"] == "done"]
    assert len(done) >= 10, {o["status"] for o in orders.values()}
    paid_leases = [x for o in done for x in o["leases"] if x["status"] == "done"]
    assert paid_leases and all(x["paid_credits"] == x["price"] * 4 for x in paid_leases)
    assert state["take"] > 0 and state["bonds"]
    # what escrow released is the usage pool's credits, and it paid the providers that delivered
    assert int(record.manifest["totals"]["compute_usage"]) > 0
    usage = defaultdict(int)
    for device_id, category, _units, amount, _breakdown in detail.device_rewards:
        if category == "compute_usage":
            usage[device_id] += amount
    # each verified run is paid when it is checked, so a lease still running (or broken later) in an order
    # that is not done at the epoch's end has been paid for its runs too: every paid lease counts
    # (and a tenant that ran out of escrow forfeits its deposit to the leases it left waiting)
    paid = {
        x["device"]
        for o in orders.values()
        for x in o["leases"]
        if x.get("paid_credits", 0) > 0
        or (o.get("deposit_paid", 0) > 0 and x.get("reason") == "compute.insufficient_funds")
    }
    assert set(usage) == paid and all(v > 0 for v in usage.values())
    winners = {x["device"] for x in paid_leases}
    assert winners <= paid and all(behaviour[d] != LAZY for d in winners)
    # a lazy provider's delivered runs are caught by the spot checks, its deposit slashed
    reasons: dict[str, set[str]] = defaultdict(set)
    for _report, device_id, reason, _evidence in detail.verdicts:
        reasons[device_id].add(reason)
    for device_id, reason, _evidence in detail.notes:
        reasons[device_id].add(reason)
    lazy_leased = {
        x["device"] for o in orders.values() for x in o["leases"] if behaviour[x["device"]] == LAZY
    }
    for device_id in lazy_leased:
        assert reasons[device_id] & {"compute.spot_check_failed", "compute.disqualified"}, reasons[device_id]
    honest = [d for d, b in behaviour.items() if b == "honest"]
    for device_id in honest:  # honest providers are never accused
        assert reasons[device_id] <= {"ok"}, (device_id, reasons[device_id])


def test_the_epoch_verifies(network: tuple[Path, dict[str, object]]) -> None:
    data, _ = network
    result = CliRunner().invoke(app, ["epoch", "verify", "0", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("match:"), result.output
