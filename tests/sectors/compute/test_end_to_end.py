"""A tenant's job end to end over HTTP: a real node server (uvicorn in a thread), two provider agents whose
jobs run in isolated subprocesses, the tenant's `depin compute submit` / `result` commands. The cheaper
provider wins, runs, is verified and paid; on a second order it is killed mid-lease, loses the lease and its
deposit, and the other provider finishes the rescheduled job."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, parse_config
from opendepin.explain import explain_device
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import Node
from opendepin.sectors.compute.client.node_api import NodeApi
from opendepin.sectors.compute.client.provider import Agent, Hasher
from opendepin.sectors.compute.client.runner import Limits
from opendepin.sectors.compute.client.tenant import app as tenant_app
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER

DAY = 86_400


@pytest.fixture
def served(compute_installed: None, tmp_path: Path) -> Iterator[tuple[Node, str]]:
    config = parse_config(
        {
            "name": "compute-e2e",
            "emission": {"kind": "fixed", "per_year": 365_000},
            "rewards": {
                "categories": {"compute_availability": 3_000, "compute_usage": 5_000, "oracles": 2_000},
                "device_categories": ["compute_availability", "compute_usage"],
                "unused_flows_to": {"compute_usage": {"compute_availability": 10_000}},
            },
            "sectors": {
                "compute": {
                    "capacity": {"work_s": 1, "expected_solutions": 16, "min_solutions": 1, "min_streak": 1},
                    "canary": {"rate_bps": 10_000, "units": 2, "size": 1_000},
                }
            },
            "makers": [MakerConfig(name="m", address=MAKER.address).model_dump()],
        }
    )
    node = Node(config, SQLiteStore(tmp_path / "n.sqlite"), SimulatedClock(config.epochs.genesis_ts))
    node.use_chain(node.block_hash_source, lambda: 10**18, lambda address: 10**9)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield node, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_two_providers_a_tenant_a_kill_and_a_rescheduled_job(
    served: tuple[Node, str], tmp_path: Path
) -> None:
    node, url = served
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    logs: list[str] = []
    agents = []
    for i, price in enumerate((8, 9)):
        key = DeviceKey("ed25519", bytes([110 + i]) * 32)
        agent = Agent(
            NodeApi(url), key, Wallet(bytes([120 + i]) * 32), price, Limits(60, 1_024, 60), 1, log=logs.append
        )
        agent.onboard(MAKER, None, "8c1f1d48945d9ff", 50_000)
        agent.bond(10_000)
        agents.append(agent)
    cheap, other = agents
    # both answer the capacity challenge of the first hour: a second of hashing on one core each
    node.challenges.issue_due()
    for agent in agents:
        agent.hasher = Hasher(1)
        agent.capacity()
        agent.hasher.close()
    assert sum("capacity" in line and "accepted" in line for line in logs) == 2, logs
    for agent in agents:  # every provider gets a canary in this network; both answer it in their sandbox
        agent.canaries()
    assert sum("canary" in line and "accepted" in line for line in logs) == 2, logs
    clock.set(clock.now() + 60)
    runner = CliRunner()
    tenant_key = tmp_path / "tenant.key"

    def submit(job: str) -> str:
        out = runner.invoke(
            tenant_app, ["submit", job, "--budget", "2000", "--node", url, "--key", str(tenant_key)]
        )
        assert out.exit_code == 0, out.output
        return out.output.strip().splitlines()[-1]

    first = submit("mlp:8:16")
    for agent in agents:
        agent.bid()
    clock.set(clock.now() + 31)
    for agent in agents:
        agent.work()
    shown = runner.invoke(tenant_app, ["result", first, "--node", url, "--json", "--check", "8"])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.output)
    (delivered,) = result["results"]
    assert delivered["device"] == cheap.device_id and delivered["verdict"] == "pending"  # until its audit
    assert delivered["root_ok"] and delivered["local_mismatches"] == []
    # a second order: the cheap provider wins and is killed before it delivers
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"kind": "hashchain", "units": 4, "size": 2_000, "deadline_s": 120}))
    second = submit(str(job))
    for agent in agents:
        agent.bid()
    start = clock.now()
    clock.set(start + 31 + 120 + 1)  # past the run's due time: the lease fails, the slot reopens
    other.bid()
    clock.set(clock.now() + 31)
    other.work()
    detail = NodeApi(url).get(f"/v1/sectors/compute/orders/{second}")
    assert [lease["status"] for lease in detail["leases"]] == ["failed", "active"]
    assert detail["leases"][0]["reason"] == "compute.deadline_missed"
    assert [r["device"] for r in detail["results"]] == [other.device_id]
    # the epoch settles both orders from escrow and slashes the killed provider's deposit
    genesis = node.config.epochs.genesis_ts
    for t in range(genesis + 600, genesis + 3_600, 600):
        clock.set(t)
        node.challenges.issue_due()
    clock.set(genesis + DAY + node.config.epochs.lateness_seconds)
    (record,) = node.close_due_epochs()
    shown = runner.invoke(tenant_app, ["result", first, "--node", url, "--json"])
    assert [r["verdict"] for r in json.loads(shown.output)["results"]] == ["ok"]  # spot-checked by the epoch
    state = record.sector_state["compute"]
    assert state["orders"][first]["status"] == "done" and state["orders"][second]["status"] == "done"
    assert state["bonds"][cheap.device_id] == 10_000 - 4 * 8 // 2  # the 50 % deposit of one run at 8/unit
    assert record.manifest["totals"].get("compute_usage", 0) > 0
    assert record.manifest["totals"].get("compute_availability", 0) > 0  # the capacity passes paid
    detail = node.store.get_epoch_detail(0)
    notes = {(d, r) for d, r, _ in detail.notes}
    assert (cheap.device_id, "compute.deadline_missed") in notes
    assert not any(r == "compute.canary_missed" for _, r in notes)
    assert sum(1 for v in detail.verdicts if v[2] == "ok" and "canary" in v[3]) == 2
    # `depin explain` shows the killed provider's deadline miss with its evidence, and what it was paid for
    explained = explain_device(node.store, cheap.device_id, 0)
    missed = [n for n in explained["notes"] if n["reason"] == "compute.deadline_missed"]
    assert missed and missed[0]["evidence"]["order"] == second and missed[0]["evidence"]["slashed"] == 16
    assert explained["reports_by_reason"]["ok"] >= 3  # its bids, its result and its capacity answer
    assert any(r["category"] == "compute_usage" and int(r["amount"]) > 0 for r in explained["rewards"])
    # the other provider asks to withdraw part of its bond: the next epoch records it for after the notice
    asked_at = clock.now()
    other.unbond(4_000)
    assert logs[-1] == "unbond 4000 credits: accepted"
    clock.set(genesis + 2 * DAY + node.config.epochs.lateness_seconds)
    (next_record,) = node.close_due_epochs()
    unbonding = next_record.sector_state["compute"]["unbonding"]
    assert unbonding == {other.device_id: [[4_000, asked_at, other.owner.address]]}
