"""The load generator (`depin load`): many onboarded devices sending signed reports to a node at a set rate,
over HTTP (`POST /v1/reports`) or MQTT (`PREFIX/reports/…`, verdicts on `PREFIX/results/DEVICE`).

- Devices are a fleet (`fleet.simulator.Fleet`, honest devices only) derived from a seed: the same seed
  gives the same keys, so a second run reuses the devices the first onboarded (onboarding the same device
  again returns it). They are onboarded first over HTTP with the fleet's maker, which the network must list
  in `[[makers]]` (`maker_address` prints it), or a maker key given.
- What each device sends is what its sector's simulation has it send in the current hour (kinds and
  payloads), re-stamped with the current time and a fresh `seq` (milliseconds since 1970 at the start of
  the run plus a per-device counter, so a later run's seqs are above an earlier one's), signed with the
  device key.
- Reports are due at a constant rate (report k at `start + k / rate`, devices in turn). Latency is counted
  from when a report was due to its verdict (the HTTP answer; over MQTT, the verdict message), so a node
  that falls behind shows it in the latency, not only in the achieved rate.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cbor2
import httpx

from opendepin.config import NetworkConfig
from opendepin.fleet.simulator import Fleet, FleetDevice, FleetSpec, compute_seed_fleet_secret, fleet_maker
from opendepin.identity.wallets import Wallet
from opendepin.reports.envelope import sign_report

HOUR = 3600
CBOR = "application/cbor"


def maker_address(seed: int) -> str:
    """The address of the maker of the load fleet of `seed` (to list in the network's `[[makers]]`)."""
    return fleet_maker(compute_seed_fleet_secret(seed)).address


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in [0, 1]) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


@dataclass
class LoadStats:
    """What a run has done so far (latencies in seconds, from when a report was due to its verdict)."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    """Reports whose sending failed (transport errors, HTTP refusals of the whole batch), by cause."""
    latencies: list[float] = field(default_factory=list)
    _mark: int = 0
    _mark_at: float = 0.0
    _mark_done: int = 0

    @property
    def answered(self) -> int:
        return self.accepted + sum(self.refused.values())

    def summary(self, now: float | None = None) -> dict[str, Any]:
        """Totals, the achieved rate (answered per second since the start) and latency percentiles (ms)."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 1)

        return {
            "elapsed_s": round(elapsed, 2),
            "sent": self.sent,
            "accepted": self.accepted,
            "refused": dict(sorted(self.refused.items())),
            "errors": dict(sorted(self.errors.items())),
            "rate_per_s": round(self.answered / elapsed, 1),
            "latency_ms": {
                "p50": ms(percentile(self.latencies, 0.50)),
                "p90": ms(percentile(self.latencies, 0.90)),
                "p99": ms(percentile(self.latencies, 0.99)),
                "max": ms(max(self.latencies) if self.latencies else None),
            },
        }

    def progress(self, now: float | None = None) -> str:
        """One line: totals, the rate over the interval since the previous line, latency over the last
        interval's verdicts."""
        now = time.monotonic() if now is None else now
        since = self._mark_at or self.started
        done = self.answered
        rate = (done - self._mark_done) / max(now - since, 1e-9)
        recent = self.latencies[self._mark :]
        self._mark, self._mark_at, self._mark_done = len(self.latencies), now, done
        p50, p99 = percentile(recent, 0.5), percentile(recent, 0.99)
        refused = sum(self.refused.values())
        line = (
            f"{now - self.started:6.1f}s sent {self.sent} answered {done} ({rate:.0f}/s) accepted "
            f"{self.accepted} refused {refused}"
        )
        if p50 is not None and p99 is not None:
            line += f" latency p50 {p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms"
        if self.errors:
            line += f" errors {sum(self.errors.values())}"
        return line


@dataclass
class LoadSpec:
    devices: int
    rate: float
    """Reports per second, all devices together."""
    duration: float
    node_url: str = "http://127.0.0.1:8080"
    mqtt: tuple[str, int] | None = None
    """Send over this MQTT broker instead of HTTP (onboarding still goes to `node_url`)."""
    mqtt_prefix: str = "depin"
    seed: int = 1
    region: str = "berlin"
    batch: int = 50
    """Reports per HTTP request or MQTT message, at most."""
    connections: int = 4
    """HTTP requests in flight at once."""
    maker_key: bytes | None = None
    """The maker that attests the devices (None: the seed's fleet maker, `maker_address(seed)`)."""
    drain_seconds: float = 30.0
    """After the last report is due, how long to wait for outstanding verdicts."""


class LoadError(RuntimeError):
    """The load could not start (the node unreachable, the devices refused at onboarding)."""


class LoadFleet:
    """The devices of a run: keys, what they send, their next seq."""

    def __init__(self, spec: LoadSpec, network: NetworkConfig, now: float | None = None) -> None:
        now = time.time() if now is None else now
        fleet_spec = FleetSpec(spec.seed, spec.region, spec.devices, max(1, spec.devices // 20), 0.0, 0.0)
        self.fleet = Fleet.create(fleet_spec, network=network)
        if spec.maker_key is not None:
            self.fleet.maker = Wallet(spec.maker_key)
        self.network = network
        self.next_seq = {d.index: int(now * 1000) for d in self.fleet.devices}
        self.payloads = self._payloads(int(now))
        self.senders = [d for d in self.fleet.devices if self.payloads.get(d.index)]
        self._turn: dict[int, int] = {}
        self._cursors: dict[tuple[int, int], int] = {}

    def _payloads(self, now: int) -> dict[int, list[tuple[str, dict[str, Any]]]]:
        """Device index → the (kind, payload)s its sector's simulation has it send in the current hour
        (an hour with none for a device: the hours before, up to a day back)."""
        found: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        hour = now - now % HOUR
        for back in range(24):
            missing = [d for d in self.fleet.devices if d.index not in found]
            if not missing:
                break
            reports = self.fleet.sector_reports(hour - back * HOUR)
            for device in missing:
                mine = reports.get(device.index)
                if mine:
                    found[device.index] = [(r.kind, dict(r.payload)) for r in mine]
        return found

    def onboarding_requests(self) -> list[dict[str, Any]]:
        return [self.fleet.onboarding_request(self.network.name, d) for d in self.fleet.devices]

    def next_device(self, lane: int = 0, lanes: int = 1) -> FleetDevice:
        """The next device, in turn, of those in `lane` of `lanes` (devices dealt to lanes by position): a
        lane is one sender whose requests go one at a time, so a device's reports arrive in seq order (two
        requests in flight with reports of one device could be stored in either order, and the older
        refused as a replay)."""
        mine = self.senders[lane::lanes]
        cursor = self._cursors.get((lane, lanes), 0)
        self._cursors[(lane, lanes)] = cursor + 1
        return mine[cursor % len(mine)]

    def sign(self, device: FleetDevice, ts: int) -> tuple[str, bytes]:
        """The device's next report, signed now: (report id, wire bytes)."""
        options = self.payloads[device.index]
        turn = self._turn.get(device.index, 0)
        self._turn[device.index] = turn + 1
        kind, payload = options[turn % len(options)]
        seq = self.next_seq[device.index]
        self.next_seq[device.index] = seq + 1
        signed = sign_report(self.fleet.key_of(device), kind, ts, seq, payload)
        return signed.report_id, signed.to_wire()


async def onboard(client: httpx.AsyncClient, fleet: LoadFleet, parallel: int = 8) -> int:
    """Onboard every device of the fleet (again: the node returns a device already there). Returns how
    many; LoadError naming the first refusal."""
    requests = fleet.onboarding_requests()
    gate = asyncio.Semaphore(parallel)

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            answer = await client.post("/v1/devices", json=body)
        if answer.status_code >= 300:
            detail = answer.json().get("detail", answer.text) if answer.content else answer.reason_phrase
            hint = ""
            if "maker" in json.dumps(detail):
                hint = (
                    f' (the network must list the load fleet\'s maker: [[makers]] name = "load" address = '
                    f'"{fleet.fleet.maker.address}")'
                )
            raise LoadError(f"onboarding {body['device_id']} was refused: {detail}{hint}")

    await asyncio.gather(*(one(body) for body in requests))
    return len(requests)


class Pacer:
    """Reports due at `rate` per second from `started`: `due(now)` says how many more are due."""

    def __init__(self, rate: float, total: int, started: float) -> None:
        self.rate, self.total, self.started = rate, total, started
        self.issued = 0

    def due(self, now: float) -> list[float]:
        """The due times of the reports that became due since the last call (at most the total)."""
        upto = min(self.total, int((now - self.started) * self.rate) + 1)
        times = [self.started + k / self.rate for k in range(self.issued, upto)]
        self.issued = max(self.issued, upto)
        return times


async def run_http(
    spec: LoadSpec,
    fleet: LoadFleet,
    client: httpx.AsyncClient,
    stats: LoadStats,
    progress: Callable[[LoadStats], None] | None = None,
    every: float = 1.0,
) -> LoadStats:
    """Send `rate × duration` reports over HTTP in batches, `connections` requests in flight, each
    connection sending the reports of its own share of the devices (their order kept)."""
    total = int(spec.rate * spec.duration)
    lanes = max(1, min(spec.connections, len(fleet.senders)))
    queue: asyncio.Queue[list[float] | None] = asyncio.Queue()
    stats.started = time.monotonic()
    pacer = Pacer(spec.rate, total, stats.started)

    async def produce() -> None:
        while pacer.issued < total:
            due = pacer.due(time.monotonic())
            for start in range(0, len(due), spec.batch):
                await queue.put(due[start : start + spec.batch])
            await asyncio.sleep(min(0.02, max(0.001, 1 / spec.rate)))
        for _ in range(lanes):
            await queue.put(None)

    async def report() -> None:
        while progress is not None:
            await asyncio.sleep(every)
            progress(stats)

    async def send(lane: int) -> None:
        while (due := await queue.get()) is not None:
            ts = int(time.time())
            wires = [fleet.sign(fleet.next_device(lane, lanes), ts)[1] for _ in due]
            stats.sent += len(wires)
            try:
                answer = await client.post(
                    "/v1/reports", content=cbor2.dumps(wires), headers={"content-type": CBOR}
                )
            except httpx.HTTPError as error:
                stats.errors[type(error).__name__] += len(wires)
                continue
            done = time.monotonic()
            if answer.status_code != 200:
                stats.errors[f"http {answer.status_code}"] += len(wires)
                continue
            for due_at, result in zip(due, answer.json()["results"], strict=True):
                if result["status"] == "accepted":
                    stats.accepted += 1
                else:
                    stats.refused[result["status"]] += 1
                stats.latencies.append(done - due_at)

    ticker = asyncio.ensure_future(report())
    try:
        await asyncio.gather(produce(), *(send(lane) for lane in range(lanes)))
    finally:
        ticker.cancel()
    if progress is not None:
        progress(stats)
    return stats


def run_mqtt(
    spec: LoadSpec,
    fleet: LoadFleet,
    stats: LoadStats,
    progress: Callable[[LoadStats], None] | None = None,
    every: float = 1.0,
) -> LoadStats:
    """Publish `rate × duration` reports to the broker (QoS 1, CBOR arrays of up to `batch` reports) and
    count the verdicts the node publishes on `PREFIX/results/DEVICE`; reports without a verdict
    `drain_seconds` after the last was due are counted as errors (`unanswered`)."""
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    assert spec.mqtt is not None
    host, port = spec.mqtt
    pending: dict[str, float] = {}
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe(f"{spec.mqtt_prefix}/results/#", qos=1)

    def on_subscribe(*_: object) -> None:
        subscribed.set()

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            verdict = json.loads(message.payload)
        except ValueError:
            return
        with lock:
            due_at = pending.pop(str(verdict.get("report_id")), None)
            if due_at is None:  # not ours, or a verdict repeated
                return
            if verdict.get("status") == "accepted":
                stats.accepted += 1
            else:
                stats.refused[str(verdict.get("status"))] += 1
            stats.latencies.append(now - due_at)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"depin-load-{uuid.uuid4().hex[:10]}")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise LoadError(f"no MQTT broker answered at {host}:{port}")
        total = int(spec.rate * spec.duration)
        stats.started = time.monotonic()
        pacer = Pacer(spec.rate, total, stats.started)
        last_progress = stats.started
        while pacer.issued < total:
            now = time.monotonic()
            due = pacer.due(now)
            ts = int(time.time())
            for start in range(0, len(due), spec.batch):
                chunk = due[start : start + spec.batch]
                signed = [fleet.sign(fleet.next_device(), ts) for _ in chunk]
                with lock:
                    for (report_id, _), due_at in zip(signed, chunk, strict=True):
                        pending[report_id] = due_at
                client.publish(f"{spec.mqtt_prefix}/reports/load", cbor2.dumps([w for _, w in signed]), qos=1)
                stats.sent += len(chunk)
            if progress is not None and now - last_progress >= every:
                progress(stats)
                last_progress = now
            time.sleep(min(0.02, max(0.001, 1 / spec.rate)))
        deadline = time.monotonic() + spec.drain_seconds
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    break
            if progress is not None and time.monotonic() - last_progress >= every:
                progress(stats)
                last_progress = time.monotonic()
            time.sleep(0.05)
        with lock:
            if pending:
                stats.errors["unanswered"] += len(pending)
    finally:
        client.loop_stop()
        client.disconnect()
    if progress is not None:
        progress(stats)
    return stats


def run_load(
    spec: LoadSpec,
    network: NetworkConfig,
    progress: Callable[[LoadStats], None] | None = None,
    on_onboarded: Callable[[int], None] | None = None,
    every: float = 1.0,
) -> LoadStats:
    """Onboard the fleet on the node, then send the load (HTTP or MQTT); returns the run's figures."""
    if spec.devices < 1 or spec.rate <= 0 or spec.duration <= 0:
        raise LoadError("--devices, --rate and --duration must be positive")
    fleet = LoadFleet(spec, network)
    if not fleet.senders:
        raise LoadError("no device of this network's sectors has anything to send")

    async def main() -> LoadStats:
        limits = httpx.Limits(max_connections=spec.connections + 8)
        async with httpx.AsyncClient(base_url=spec.node_url, timeout=60.0, limits=limits) as client:
            try:
                health = (await client.get("/v1/health")).json()
            except httpx.HTTPError as error:
                raise LoadError(f"no node answered at {spec.node_url}: {error}") from None
            if health.get("network") != network.name:
                raise LoadError(
                    f"the node at {spec.node_url} serves network {health.get('network')!r}, not "
                    f"{network.name!r} (give its network.toml with --network)"
                )
            count = await onboard(client, fleet)
            if on_onboarded is not None:
                on_onboarded(count)
            stats = LoadStats()
            if spec.mqtt is None:
                return await run_http(spec, fleet, client, stats, progress, every)
        return await asyncio.to_thread(run_mqtt, spec, fleet, stats, progress, every)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # called where an event loop already runs in this thread (a notebook, an async caller): on a thread
    # of its own, with its own loop
    with ThreadPoolExecutor(1, thread_name_prefix="depin-load") as pool:
        return pool.submit(asyncio.run, main()).result()
