"""The provider agent behind `depin provider compute --node URL` (commands.py).

At start it measures its speed (SHA-256 hashes per second over all cores, the capacity challenge's own
hash), onboards the device if the node does not know it (the maker signs CPU cores, memory and GPU model; the
owner states the benchmark), and puts up a bond if asked. Then, every `--poll` seconds:
- answers the capacity challenge of the period: hashes on every core until `work_s` after the challenge and
  reports every solution (`compute.capacity`);
- bids its price on every open order it qualifies for (`compute.bid`, deposit as the rules require), while
  its free bond covers the deposit;
- runs each run of each lease it holds once the tenant's escrow covers it, in an isolated subprocess with
  CPU, memory and time limits (runner.py), and reports every unit's output with their Merkle root
  (`compute.result`).

`--behaviour lazy|partial` makes the agent cheat (random outputs for all units, or for 5 % of them): for
testing a network's verification, never for a real network.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from opendepin.identity.attestation import attestation_message, location_message
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.reports.envelope import sign_report
from opendepin.sectors.compute import market
from opendepin.sectors.compute.attributes import Hardware
from opendepin.sectors.compute.client.node_api import SECTOR, NodeApi, NodeError
from opendepin.sectors.compute.client.runner import JobFailed, Limits, run_isolated
from opendepin.sectors.compute.jobs import JobSpec
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.orders import parse_order
from opendepin.sectors.compute.reports import BID, CANARY, CAPACITY, RESULT, UNBOND

DEFAULT_CELL = "8c1f1d48945d9ff"


def _hash_worker(args: tuple[str, str, int, int, int, float, int]) -> tuple[int, float, list[int]]:
    """Hash nonces start, start + step, ... for `seconds` from when this worker starts, or until the
    absolute time `-seconds` when negative; (hashes done, seconds taken, solutions under `target`)."""
    challenge, device, target, start, step, seconds, limit = args
    began = time.time()
    until = began + seconds if seconds >= 0 else -seconds
    prefix = f"{challenge}|{device}|".encode()
    sha = hashlib.sha256
    found: list[int] = []
    nonce, done = start, 0
    while time.time() < until:
        for _ in range(2_000):
            under = int.from_bytes(sha(prefix + str(nonce).encode()).digest()[:8], "big") < target
            if under and len(found) < limit:
                found.append(nonce)
            nonce += step
        done += 2_000
    return done, time.time() - began, found


class Hasher:
    """A pool of one process per core, spawned once (spawning takes seconds on a loaded machine)."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.pool = multiprocessing.get_context("spawn").Pool(cores)
        # wait until every worker is up and has imported this module (seconds, the first time)
        self.pool.map(_hash_worker, [("warm-up", "", 0, i, cores, 0.0, 0) for i in range(cores)])

    def benchmark(self, seconds: float = 2.0) -> int:
        """Hashes per second over all cores: each worker's count over its own time."""
        jobs = [("benchmark", "local", 0, i, self.cores, seconds, 0) for i in range(self.cores)]
        return int(sum(done / max(taken, 1e-9) for done, taken, _ in self.pool.map(_hash_worker, jobs)))

    def solve(
        self, challenge: str, device: str, target: int, until: float, limit: int
    ) -> tuple[int, list[int]]:
        """(hashes done, solutions) by every core until the absolute time `until`."""
        jobs = [(challenge, device, target, i, self.cores, -until, limit) for i in range(self.cores)]
        results = self.pool.map(_hash_worker, jobs)
        return sum(d for d, _, _ in results), sorted(n for _, _, sols in results for n in sols)[:limit]

    def close(self) -> None:
        self.pool.terminate()


def _memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        return 1_024


def load_key(path: Path, make: Callable[[bytes], Any]) -> Any:
    """A 32-byte secret in hex from `path`, created (mode 0600) if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex() + "\n")
        path.chmod(0o600)
    return make(bytes.fromhex(path.read_text().strip().removeprefix("0x")))


@dataclass
class Agent:
    api: NodeApi
    key: DeviceKey
    owner: Wallet
    price: int
    limits: Limits
    cores: int
    behaviour: str = "honest"
    hasher: Hasher | None = None
    log: Callable[[str], None] = print
    seq: int = field(default_factory=lambda: time.time_ns() // 1_000)
    bid_on: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)
    delivered: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        return self.key.device_id

    def send(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        wire = sign_report(self.key, kind, self.api.now(), self.seq, payload).to_wire()
        (result,) = self.api.send_reports([wire])
        return result

    def onboard(self, maker: Wallet | None, gpu: str | None, cell: str, benchmark: int) -> None:
        try:
            self.api.get(f"/v1/devices/{self.device_id}")
            self.log(f"device {self.device_id} is onboarded")
            return
        except NodeError as error:
            if error.status != 404:
                raise
        if maker is None:
            raise NodeError(404, "device.unknown", "the node does not know this device: give --maker-key")
        network = self.api.network()
        attrs: dict[str, Any] = {"cpu_cores": self.cores, "memory_mb": _memory_mb()}
        if gpu:
            attrs["gpu_model"] = gpu
        owner_attrs = {"benchmark_hps": benchmark}
        body = {
            "device_id": self.device_id,
            "owner": self.owner.address,
            "maker": maker.address,
            "maker_signature": maker.sign_text(
                attestation_message(network, self.device_id, self.owner.address, attrs)
            ).hex(),
            "attributes": attrs,
            "location": {
                "cell": cell,
                "nonce": 1,
                "signature": self.owner.sign_text(
                    location_message(network, self.device_id, cell, 1, owner_attrs)
                ).hex(),
                "attributes": owner_attrs,
            },
        }
        self.api.post_json("/v1/devices", body)
        self.log(f"onboarded {self.device_id}: {attrs} benchmark {benchmark} H/s")

    def bond(self, credits: int) -> None:
        receipt = UsageReceipt(
            "compute",
            self.device_id,
            self.owner.address,
            credits,
            credits,
            "credits",
            f"bond:{self.device_id}:{time.time_ns()}",
            self.api.now(),
        )
        answer = self.api.send_receipts([sign_receipt(receipt, self.owner.sign_text).to_wire()])
        self.log(f"bond {credits} credits: {answer['results'][0]['status']}")

    def unbond(self, credits: int) -> None:
        """Ask to withdraw `credits` of the bond (released to the owner's escrow after the notice period)."""
        result = self.send(UNBOND, {"amount": credits})
        self.log(f"unbond {credits} credits: {result['status']}")

    # --- one poll -----------------------------------------------------------------------------------------
    def step(self) -> None:
        self.capacity()
        self.canaries()
        self.bid()
        self.work()

    def canaries(self) -> None:
        """Run the canary jobs the network sent this provider (known answers: they test that it computes)."""
        for canary in self.api.get(f"{SECTOR}/canary/{self.device_id}")["canaries"]:
            if canary["challenge"] in self.answered:
                continue
            self.answered.add(canary["challenge"])
            job = JobSpec.from_map(canary["job"])
            try:
                outputs = self.cheat(job, run_isolated(job, self.limits))
            except JobFailed as error:
                self.log(f"canary {canary['challenge'][:10]}: {error}")
                continue
            payload = {
                "challenge": canary["challenge"],
                "root": outputs_root(outputs).hex(),
                "outputs": outputs,
            }
            result = self.send(CANARY, payload)
            self.log(f"canary {canary['challenge'][:10]}: {result['status']}")

    def capacity(self) -> None:
        try:
            c = self.api.get(f"{SECTOR}/capacity/{self.device_id}")
        except NodeError:
            return
        end = c["issued_at"] + c["work_s"]
        if c["challenge"] in self.answered or c["now"] >= end:
            return
        self.answered.add(c["challenge"])
        if self.hasher is None:
            self.hasher = Hasher(self.cores)
        until = time.time() + (end - c["now"])  # the node's clock may differ from ours: count its seconds
        hashes, found = self.hasher.solve(c["challenge"], self.device_id, int(c["target"]), until, 400)
        result = self.send(CAPACITY, {"challenge": c["challenge"], "nonces": found})
        self.log(
            f"capacity {c['challenge'][:10]}: {len(found)} solutions from {hashes} hashes: {result['status']}"
        )

    def bid(self) -> None:
        board = self.api.get(f"{SECTOR}/orders")
        me = self.api.get(f"/v1/devices/{self.device_id}")
        hardware = Hardware.of(me["attributes"])
        rules = self.api.get(f"{SECTOR}/rules")["market"]
        for listed in board["open"]:
            key = f"{listed['id']}:{listed['bids_until']}"
            if key in self.bid_on or listed["max_price"] < self.price:
                continue
            self.bid_on.add(key)
            order = parse_order(
                {k: listed[k] for k in listed if k not in ("id", "order_hex", "signature", "bids_until")}
            )
            if market.unmet_requirements(hardware, order.requirements):
                continue
            deposit = market.required_deposit(
                self.price, order.job.units, rules["deposit_bps"], rules["min_deposit"]
            )
            payload = {
                "order": bytes.fromhex(listed["order_hex"]),
                "order_sig": bytes.fromhex(listed["signature"]),
                "price": self.price,
                "deposit": deposit,
            }
            result = self.send(BID, payload)
            self.log(f"bid {self.price}/unit on {listed['id'][:10]}: {result['status']}")

    def work(self) -> None:
        for key in sorted({k.split(":")[0] for k in self.bid_on}):
            try:
                detail = self.api.get(f"{SECTOR}/orders/{key}")
            except NodeError:
                continue
            mine = [
                x
                for x in detail.get("leases", [])
                if x["device"] == self.device_id and x["status"] == "active"
            ]
            if not mine:
                continue
            lease = mine[0]
            order = parse_order(cbor2.loads(bytes.fromhex(detail["order_hex"])))
            run = lease["committed"]
            if run >= order.runs or (key, run) in self.delivered:
                continue
            if detail["escrow"] < lease["price"] * order.job.units:
                self.log(f"lease {key[:10]} run {run}: waiting for the tenant's escrow")
                continue
            job = order.job.for_run(run)
            self.log(f"lease {key[:10]} run {run}: running {job.units} units of {job.kind}")
            try:
                outputs = run_isolated(job, self.limits)
            except JobFailed as error:
                self.log(f"lease {key[:10]} run {run}: {error}")
                continue
            outputs = self.cheat(job, outputs)
            root = outputs_root(outputs).hex()
            result = self.send(RESULT, {"order": key, "run": run, "root": root, "outputs": outputs})
            self.delivered[(key, run)] = root
            self.log(f"lease {key[:10]} run {run}: root {root[:12]} {result['status']}")

    def cheat(self, job: JobSpec, outputs: list[bytes]) -> list[bytes]:
        if self.behaviour == "lazy":
            return [os.urandom(len(o)) for o in outputs]
        if self.behaviour == "partial":
            skip = max(1, len(outputs) // 20)
            return [os.urandom(len(o)) if i < skip else o for i, o in enumerate(outputs)]
        return outputs


def run(
    node: str,
    key_dir: Path,
    maker_key: Path | None,
    price: int,
    bond: int,
    cores: int,
    gpu: str | None,
    cell: str,
    limits: Limits,
    poll: float,
    once: bool,
    behaviour: str,
    unbond: int = 0,
) -> None:
    """The agent's life: keys, benchmark, onboarding, bond, then poll until stopped."""
    api = NodeApi(node)
    device = load_key(key_dir / "device.key", lambda b: DeviceKey("ed25519", b))
    owner = load_key(key_dir / "owner.key", Wallet)
    maker = load_key(maker_key, Wallet) if maker_key is not None else None
    agent = Agent(api, device, owner, price, limits, cores, behaviour, hasher=Hasher(cores))
    assert agent.hasher is not None
    benchmark = agent.hasher.benchmark()
    agent.log(f"benchmark: {benchmark} H/s on {cores} cores")
    agent.onboard(maker, gpu, cell, benchmark)
    if bond:
        agent.bond(bond)
    if unbond:
        agent.unbond(unbond)
    while True:
        try:
            agent.step()
        except (NodeError, OSError) as error:
            agent.log(f"poll failed: {error}")
        if once:
            return
        time.sleep(poll)
