"""`depin up` on the example compute network: the fleet's providers onboard with attested hardware, really
hash their capacity answers and run their canary jobs; honest providers are paid for availability, the
simulated cheaters (lazy, 95 %-honest, capacity over-claimers) are caught with their reason codes and paid
nothing, and every closed epoch recomputes to the stored one (`depin epoch verify`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.config import load_config
from opendepin.fleet.simulator import Fleet
from opendepin.sectors.compute.challenges import CANARY
from opendepin.sectors.compute.sim.simulation import LAZY, OVERCLAIM, PARTIAL
from opendepin.store.factory import open_store
from opendepin.up import UpOptions, run_network

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "compute.toml"
CHEATERS = {
    LAZY: "compute.canary_missed",
    PARTIAL: "compute.canary_missed",
    OVERCLAIM: "compute.benchmark_failed",
}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    data = tmp_path_factory.mktemp("compute-up") / "net"
    summary = run_network(
        UpOptions(data_dir=data, epochs=2, devices=30, misbehaving_share=0.6, network=EXAMPLE, chain="none")
    )
    return data, summary


def test_depin_up_pays_honest_providers_and_not_cheaters(network: tuple[Path, dict[str, object]]) -> None:
    data, summary = network
    assert summary["network"] == "compute-net"
    behaviours = summary["behaviours"]
    assert isinstance(behaviours, dict)
    assert behaviours["honest"] >= 5 and all(behaviours.get(name, 0) >= 1 for name in CHEATERS)
    config = load_config(data / "network.toml")
    fleet = Fleet.load(data / "fleet.json", network=config)
    behaviour = {fleet.key_of(d).device_id: d.behaviour for d in fleet.devices}
    store = open_store(config.store, data)
    deadline = int(config.sectors["compute"].model_dump()["canary"]["deadline_s"])
    disqualified: set[str] = set()
    try:
        for number in (0, 1):
            record = store.get_epoch_detail(number)
            assert record is not None
            pay: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for device_id, category, _units, amount, _breakdown in record.device_rewards:
                pay[device_id][category] += amount
            reasons: dict[str, set[str]] = defaultdict(set)
            for _report, device_id, reason, _evidence in record.verdicts:
                reasons[device_id].add(reason)
            for device_id, reason, _evidence in record.notes:
                reasons[device_id].add(reason)
            # canaries issued and due inside this epoch: a job-skipping cheater is caught on each it gets, but
            # which providers get one is drawn (25 % an hour), so one can go a day without any
            canaries: dict[str, int] = defaultdict(int)
            for challenge in store.challenges_between(record.start, record.end - deadline):
                if challenge.kind == CANARY and challenge.device is not None:
                    canaries[challenge.device] += 1
            honest = [d for d, b in behaviour.items() if b == "honest"]
            for device_id in honest:  # every honest provider: paid for availability, never accused
                assert pay[device_id]["compute_availability"] > 0, device_id
                assert reasons[device_id] == {"ok"}, (device_id, reasons[device_id])
            for device_id, strategy in behaviour.items():
                if strategy == OVERCLAIM:  # fails the capacity challenge every hour
                    assert sum(pay[device_id].values()) == 0, dict(pay[device_id])
                    assert number > 0 or CHEATERS[strategy] in reasons[device_id]
                elif strategy in (LAZY, PARTIAL) and (canaries[device_id] or device_id in disqualified):
                    assert sum(pay[device_id].values()) == 0, (strategy, dict(pay[device_id]))
                    if device_id not in disqualified:
                        assert CHEATERS[strategy] in reasons[device_id], strategy
                    if canaries[device_id] >= 2:  # two wrong answers from a clean record disqualify
                        assert "compute.disqualified" in reasons[device_id] or device_id in disqualified
                    if "compute.disqualified" in reasons[device_id]:
                        disqualified.add(device_id)
        assert disqualified, "no job-skipping cheater was caught"
    finally:
        store.close()


def test_every_epoch_verifies(network: tuple[Path, dict[str, object]]) -> None:
    data, _ = network
    for number in ("0", "1"):
        result = CliRunner().invoke(app, ["epoch", "verify", number, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        assert "match" in result.output and "mismatch" not in result.output, result.output
