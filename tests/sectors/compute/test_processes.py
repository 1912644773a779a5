"""A tenant's job end to end on real processes: `depin serve` on an embedded chain where the tenant and the
two providers' owners bought data credits, two `depin provider compute` agents, the tenant's `depin compute
submit` and `depin compute result`. The cheaper provider wins the lease and is killed with SIGKILL while its
sandbox runs the job (agent, hashing workers and sandbox); its lease fails at the run's due time
(`compute.deadline_missed`) and its deposit goes to the tenant; the order is auctioned again, the other
provider wins, runs and delivers; the epoch that has the result's audit seed spot-checks it and pays it from
the tenant's escrow (less the take), `compute_usage` pays the provider's owner, `depin epoch verify`
recomputes the epoch, and the tenant fetches the outputs and recomputes them locally."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.identity.wallets import Wallet
from tests.sectors.compute.processes import (
    DEV_MAKER_KEY,
    Proc,
    depin,
    fund,
    launch,
    network_toml,
    start_node,
    wait_for,
)

TENANT = Wallet(b"\x31" * 32)
OWNERS = (Wallet(b"\x32" * 32), Wallet(b"\x33" * 32))
PRICES = (8, 9)  # the first provider is cheaper: it wins the first auction
UNITS, DEADLINE_S, BOND = 4, 10, 10_000
SECTOR = "/v1/sectors/compute"


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[str, Path, list[Proc]]]:
    data = tmp_path / "node"
    data.mkdir()
    # genesis now: epoch 0 ends a minute from here, after the setup and the job (about 40 s)
    (data / "network.toml").write_text(network_toml(int(time.time())))
    fund(data, {TENANT.address: "1", OWNERS[0].address: "1", OWNERS[1].address: "1"})
    procs: list[Proc] = []
    try:
        node, url = start_node(data)
        procs.append(node)
        maker = tmp_path / "maker.key"
        maker.write_text(DEV_MAKER_KEY + "\n")
        for i, (owner, price) in enumerate(zip(OWNERS, PRICES, strict=True)):
            keys = tmp_path / f"p{i + 1}"
            keys.mkdir()
            (keys / "owner.key").write_text(owner.private_key.hex() + "\n")
            args = ["provider", "compute", "--node", url, "--key-dir", str(keys), "--maker-key", str(maker)]
            args += ["--bond", str(BOND), "--price", str(price), "--cores", "1", "--poll", "0.5"]
            args += ["--cpu-s", "60", "--wall-s", "60"]
            procs.append(launch(args, tmp_path / f"p{i + 1}.log"))
        yield url, data, procs
    finally:
        for proc in procs:
            proc.stop()


def test_a_job_on_two_provider_processes_one_killed_mid_job(
    network: tuple[str, Path, list[Proc]], tmp_path: Path
) -> None:
    url, data, procs = network
    node, cheap, other = procs
    began = time.monotonic()

    def bonded() -> list[str]:
        providers = httpx.get(f"{url}{SECTOR}/providers", timeout=5).json()["providers"]
        return [p["device"] for p in providers if p["bond"] == BOND] if len(providers) == 2 else []

    wait_for("both providers bonded", bonded, 120, procs)
    # the agent's log line `onboarded ed25519:HEX: {...}`
    cheap_id, other_id = (
        ":".join(p.text().split("onboarded ", 1)[1].split(":", 2)[:2]) for p in (cheap, other)
    )
    setup_s = time.monotonic() - began

    key = tmp_path / "tenant.key"
    key.write_text(TENANT.private_key.hex() + "\n")
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps({"kind": "hashchain", "units": UNITS, "size": 300_000, "deadline_s": DEADLINE_S})
    )
    order = depin("compute", "submit", str(job), "--budget", "2000", "--node", url, "--key", str(key))
    order = order.strip().splitlines()[-1]
    submitted = time.monotonic()

    # the cheaper provider wins and starts the run in its sandbox: kill the machine there
    wait_for("the cheap provider running the job", lambda: "run 0: running" in cheap.text(), 60, procs)
    killed_jobs = cheap.kill9()
    assert "root" not in cheap.text().split("run 0: running", 1)[1]  # it never delivered
    killed = time.monotonic()

    def detail() -> dict:
        return dict(httpx.get(f"{url}{SECTOR}/orders/{order}", timeout=10).json())

    def rescheduled() -> dict | None:
        d = detail()
        # the book may already show the replacement done (spot-checked as soon as its audit seed exists)
        statuses = [x["status"] for x in d["leases"]]
        return d if d["results"] and statuses in (["failed", "active"], ["failed", "done"]) else None

    live = [node, other]
    moved = wait_for("the job rescheduled and delivered by the other provider", rescheduled, 90, live)
    delivered = time.monotonic()
    failed, replacement = moved["leases"]
    assert failed["device"] == cheap_id and failed["reason"] == "compute.deadline_missed"
    assert replacement["device"] == other_id and replacement["price"] == PRICES[1]
    assert [r["device"] for r in moved["results"]] == [other_id]

    # the epoch holding the result's audit seed spot-checks it and pays it from escrow: the stored escrow is
    # the budget, less the paid run, plus the killed provider's deposit (the order deposit returned)
    cost = PRICES[1] * UNITS
    deposit = PRICES[0] * UNITS // 2  # 50 % of one run at the killed provider's price

    def stored_escrow() -> bool:
        account = httpx.get(f"{url}{SECTOR}/accounts/{TENANT.address}", timeout=10).json()
        return bool(account["escrow"] == 2_000 - cost + deposit)

    wait_for("the order paid at an epoch's close", stored_escrow, 150, live)
    paid = time.monotonic()
    final = detail()
    (lease_failed, lease_done) = final["leases"]
    assert lease_done["status"] == "done" and lease_done["paid_credits"] == cost
    assert lease_failed["status"] == "failed" and "paid_credits" not in lease_failed
    assert final["status"] == "done" and final["escrow"] == 2_000 - cost + deposit
    epochs = httpx.get(f"{url}/v1/epochs", timeout=10).json()
    closed = epochs["epochs"] if isinstance(epochs, dict) else epochs
    number = max(int(e["number"]) for e in closed)
    account = httpx.get(f"{url}{SECTOR}/accounts/{cheap_id}", timeout=10).json()
    assert account["bond"] == BOND - deposit
    manifest = httpx.get(f"{url}/v1/epochs/{number}", timeout=10).json()
    totals = manifest.get("totals") or manifest["manifest"]["totals"]
    assert int(totals["compute_usage"]) > 0

    # the tenant fetches the result: root over the outputs, every unit recomputed locally, outputs written
    out = tmp_path / "outputs.json"
    shown = depin(
        "compute", "result", order, "--node", url, "--json", "--check", str(UNITS), "--out", str(out)
    )
    shown = json.loads(shown)
    (result,) = shown["results"]
    assert shown["status"] == "done" and result["device"] == other_id and result["verdict"] == "ok"
    assert result["root_ok"] and result["local_mismatches"] == []
    assert len(json.loads(out.read_text())["0"]) == UNITS

    # anyone holding the store recomputes the epochs, and `depin explain` shows the kill and the pay (the
    # same commands, run in this process: a Python start costs seconds here)
    runner = CliRunner()

    def cli(*args: str) -> str:
        done = runner.invoke(app, [*args, "--data-dir", str(data)], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done.stdout

    for n in range(number + 1):
        assert cli("epoch", "verify", str(n)).startswith("match:")
    explained = [
        json.loads(cli("explain", device, "--epoch", str(n), "--json"))
        for device in (cheap_id, other_id)
        for n in range(number + 1)
    ]
    notes = [note for e in explained for note in e["notes"]]
    missed = [n for n in notes if n["reason"] == "compute.deadline_missed"]
    assert missed and missed[0]["evidence"]["order"] == order and missed[0]["evidence"]["slashed"] == deposit
    usage = [r for e in explained for r in e["rewards"] if r["category"] == "compute_usage"]
    assert usage and all(int(r["amount"]) > 0 for r in usage)
    print(
        f"setup {setup_s:.1f} s, submit→kill {killed - submitted:.1f} s, kill→delivered "
        f"{delivered - killed:.1f} s, delivered→paid {paid - delivered:.1f} s, total "
        f"{time.monotonic() - began:.1f} s; sandboxes killed {len(killed_jobs)}; epoch {number}"
    )
