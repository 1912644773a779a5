"""Serving a node: its HTTP API from a background thread (`BackgroundServer`, used by `depin up` and the
tests) and the node as a long-running service (`serve_node`, `depin serve`): wall-clock epochs with no
silent backlog, settlement in order with reconciliation after a restart, settings remembered by the data
dir, `/metrics`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from opendepin.api.app import create_app
from opendepin.api.ratelimit import RateLimiter
from opendepin.chain.backend import ChainBackend
from opendepin.chain.factory import SERVE_SETTINGS_FILE
from opendepin.explorer.chain import BackendChainView, ChainView
from opendepin.node import Node
from opendepin.rewards.epoch import window_for
from opendepin.settlement import EpochSettler, SettlementLoop, local_oracle_signers

log = logging.getLogger(__name__)
SIMULATED_CLOCK_KEY = "sim_clock"
"""Store meta key under which `depin up` keeps its simulated clock (`up.CLOCK_KEY`)."""
T = TypeVar("T")


class BackgroundServer:
    """uvicorn on 127.0.0.1 (a free port unless one is given), stopped by `stop()`."""

    def __init__(
        self, node: Node, host: str = "127.0.0.1", port: int = 0, chain: ChainView | None = None
    ) -> None:
        self.sock = listen(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.app = create_app(node, chain)
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the node's HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- `depin serve`: the node as a service ------------------------------------------------------------

SETTINGS_FILE = SERVE_SETTINGS_FILE
"""The data dir's remembered `depin serve` settings (the flags last given; the chain commands read its
chain, `opendepin.chain.factory.remembered_chain`)."""


BUS_MODES = ("direct", "nats")
CHAIN_KINDS = ("embedded", "rpc", "none")


@dataclass
class ServeSettings:
    """What `depin serve` runs with. A flag given on the command line replaces the remembered value and is
    remembered; a flag left out takes the remembered value, else the default here."""

    host: str = "127.0.0.1"
    port: int = 8080
    chain: str | None = None
    """"embedded", "rpc" or "none"; None: network.toml's [chain] kind."""
    rpc_url: str | None = None
    mqtt: str | None = None
    mqtt_prefix: str = "depin"
    bus: str = "direct"
    """"direct" (gate in this process) or "nats" (edges publish to JetStream, ingest workers store)."""
    nats_url: str = "nats://127.0.0.1:4222"
    workers: int = 2
    """Gate workers `depin serve --bus nats` starts beside itself (more may run on other machines)."""
    scheduler_interval: float = 10.0
    settle_interval: float = 10.0

    @classmethod
    def load(cls, data_dir: Path) -> ServeSettings:
        """The remembered settings (defaults where none are); a remembered value of the wrong type (a
        hand-edited file) is dropped for its default, a file that is not a JSON object is an error."""
        path = data_dir / SETTINGS_FILE
        if not path.exists():
            return cls()
        try:
            saved = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"{path} is not readable ({error}); remove it to start with the defaults"
            ) from None
        if not isinstance(saved, dict):
            raise ValueError(f"{path} holds no settings object; remove it to start with the defaults")
        defaults = cls()
        kept = {}
        for f in fields(cls):
            value, default = saved.get(f.name), getattr(defaults, f.name)
            if default is None:  # chain, rpc_url, mqtt: text when given
                allowed: set[type] = {str}
            else:  # the default's type (an int where a float is expected)
                allowed = {float, int} if isinstance(default, float) else {type(default)}
            if type(value) in allowed:
                kept[f.name] = value
        return cls(**kept)

    def merged(self, given: Mapping[str, Any]) -> ServeSettings:
        """These settings with the flags actually given (None: not given) applied."""
        return replace(self, **{key: value for key, value in given.items() if value is not None})

    def problems(self) -> dict[str, str]:
        """What is wrong with these settings: setting → one sentence (empty: they can be served). Checked
        before anything starts, and before they are remembered: a mistyped flag is refused once, not kept by
        the data dir for every later start."""
        found = {}
        if self.bus not in BUS_MODES:
            found["bus"] = f"--bus must be {' or '.join(BUS_MODES)}, not {self.bus!r}"
        if self.chain is not None and self.chain not in CHAIN_KINDS:
            found["chain"] = (
                f"--chain must be {', '.join(CHAIN_KINDS[:-1])} or {CHAIN_KINDS[-1]}, not {self.chain!r}"
            )
        if not 1 <= self.port <= 65_535:
            found["port"] = f"--port must be a TCP port (1-65535), not {self.port}"
        if not self.host:
            found["host"] = "--host must name an address to listen on"
        if self.workers < 0:
            found["workers"] = f"--workers must be 0 or more, not {self.workers}"
        prefix = self.mqtt_prefix
        if not prefix or any(c in prefix for c in "+#\0") or prefix.startswith("/") or prefix.endswith("/"):
            found["mqtt_prefix"] = (
                "--mqtt-prefix must be MQTT topic levels with no wildcard (+, #) and no / at either end, "
                f"not {prefix!r}"
            )
        if self.mqtt is not None:
            broker, _, broker_port = self.mqtt.partition(":")
            if not broker or (
                broker_port and not (broker_port.isdigit() and 1 <= int(broker_port) <= 65_535)
            ):
                found["mqtt"] = f"--mqtt must be HOST or HOST:PORT (a TCP port, 1-65535), not {self.mqtt!r}"
        return found

    def save(self, data_dir: Path) -> None:
        path = data_dir / SETTINGS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


class BacklogRefused(RuntimeError):
    """More than one epoch is due at start and catching up was not asked for."""


def due_epochs(node: Node) -> list[int]:
    """Epochs whose lateness cutoff has passed and that are not closed yet, in order."""
    config, now = node.config, node.clock.now()
    due, number = [], node.next_epoch
    while now >= window_for(config, number).end + config.epochs.lateness_seconds:
        due.append(number)
        number += 1
    return due


def check_backlog(node: Node, catch_up: bool) -> list[int]:
    """Rule: at start, at most one due epoch closes without being asked (the one that ended while the node
    was briefly down); a longer backlog closes only with `catch_up`, and is logged. Returns the backlog."""
    due = due_epochs(node)
    if len(due) > 1 and not catch_up:
        raise BacklogRefused(
            f"{len(due)} epochs ({due[0]}..{due[-1]}) ended without being closed (genesis "
            f"{node.config.epochs.genesis.isoformat()}, last closed {node.next_epoch - 1}); each would be "
            "closed with its emission. Pass --catch-up to close them, or start a new network with "
            "`depin init` (its genesis is its creation time)"
        )
    if len(due) > 1:
        log.warning(
            "catching up %d epochs (%d..%d) before serving on wall-clock time", len(due), due[0], due[-1]
        )
    return due


class ChainConnector:
    """Opens the settlement chain in the background (deploying on first start), wires the node to it and
    starts the settlement loop. Every use of the backend goes through `lock`."""

    def __init__(
        self, node: Node, data_dir: Path, settings: ServeSettings, on_ready: Callable[[], None] | None = None
    ) -> None:
        self.node = node
        self.data_dir = data_dir
        self.settings = settings
        self.kind = settings.chain or node.config.chain.kind
        self.lock = threading.Lock()
        self.backend: ChainBackend | None = None
        self.loop: SettlementLoop | None = None
        self.error: str | None = None
        self.on_ready = on_ready
        self._thread = threading.Thread(target=self._connect, name="chain-connect", daemon=True)

    def _locked(self, function: Callable[..., T]) -> Callable[..., T]:
        def call(*args: Any) -> T:
            with self.lock:
                return function(*args)

        return call

    def _connect(self) -> None:
        from opendepin.chain.deploy import ensure_deployed
        from opendepin.chain.factory import open_backend

        try:
            backend = open_backend(
                self.data_dir, self.node.config.chain, kind=self.kind, rpc_url=self.settings.rpc_url
            )
            with self.lock:
                ensure_deployed(backend, self.node.config)
        except Exception as error:
            self.error = str(error)
            log.error("the settlement chain is unavailable, epochs are closed but not settled: %s", error)
            return
        self.backend = backend
        self.node.use_chain(
            self._locked(backend.latest_block_hash),
            self._locked(backend.oracle_price_wad),
            self._locked(backend.credits_of),
        )
        settler = EpochSettler(backend, self.node.store, signers=local_oracle_signers(backend))
        self.loop = SettlementLoop(
            settler,
            lambda: self.node.next_epoch,
            self.lock,
            self.settings.settle_interval,
            clock=self.node.clock.now,
        ).start()
        log.info("settling on the %s chain %s", backend.kind, backend.chain_id)
        if self.on_ready is not None:
            self.on_ready()

    def start(self) -> ChainConnector:
        if self.kind != "none":
            self._thread.start()
        return self

    def wake(self, *_: object) -> None:
        if self.loop is not None:
            self.loop.wake()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        if self.loop is not None:
            self.loop.stop()
        if self.backend is not None:
            with self.lock:
                self.backend.close()


REFUSAL_POLL_SECONDS = 1.0
"""How often a bus edge reads the workers' refusals to charge their senders (`BusMode.charge_refusals`)."""


class BusMode:
    """`--bus nats`: this process is an edge (HTTP and MQTT reports are published to JetStream and answered
    once the stream stored them), gate workers store them in PostgreSQL, and closing an epoch waits for
    the workers' batches in flight (`drain_workers`)."""

    def __init__(self, node: Node, data_dir: Path, settings: ServeSettings) -> None:
        import multiprocessing

        from opendepin.ingest.bus import OutageWatch, RefusalTally, ThreadedEdge, edge_screen
        from opendepin.ingest.gate import ACCEPTED, GateResult
        from opendepin.ingest.worker import drain_workers, run_worker_process
        from opendepin.reports.envelope import SignedReport
        from opendepin.store.postgres import PostgresStore

        store = node.store
        if not isinstance(store, PostgresStore):
            raise ValueError(
                '--bus nats needs the PostgreSQL store: [store] kind = "postgres" in network.toml'
            )
        self.node = node
        self.edge = ThreadedEdge(settings.nats_url)
        self.tally = RefusalTally()

        def publish(wires: Sequence[bytes], source: str = "local") -> list[GateResult]:
            """The edge's gate (`edge_screen`): bytes that do not decode as a signed report, or that name a
            device the store does not know, are refused here, counted against their source, and never put
            on the bus (the stream has no maximum age, so what goes on it stays until a worker stored it);
            every other report is stored on the bus and answered with its id and device (an MQTT device
            finds its answer on its own results topic by them). The workers decide the rest."""
            now = node.clock.now()
            screened = edge_screen(wires, node.config.ingest.max_report_bytes, node.store.get_devices)
            passing = [
                (wire, item)
                for wire, item in zip(wires, screened, strict=True)
                if isinstance(item, SignedReport)
            ]
            stored = iter(
                self.edge.publish([w for w, _ in passing], source, decoded=[d for _, d in passing])
                if passing
                else []
            )
            results: list[GateResult] = []
            refused = []
            for wire, item in zip(wires, screened, strict=True):
                if isinstance(item, SignedReport):
                    message = (
                        "queued: stored on the bus; the gate workers decide"
                        if next(stored)
                        else "already on the bus (duplicate inside the window)"
                    )
                    result = GateResult(ACCEPTED, message, item.report_id, item.envelope.device)
                else:
                    result = item
                    refused.append(node.ingestion.rejection(result, wire, now, source))
                results.append(result)
            if refused:
                self.tally.count_own(
                    (r.received_at if r.bucket is None else r.bucket, r.reason, r.source) for r in refused
                )
                node.store.append([], refused, node.config.ingest.rejection_samples)
            return results

        node.ingestion.ingest = publish  # type: ignore[method-assign]
        node.ingestion.drain = lambda: drain_workers(store, node.closed_until)  # type: ignore[method-assign]
        context = multiprocessing.get_context("spawn")
        config_path = str(data_dir / "network.toml")

        def worker(index: int) -> Any:
            """Worker `index` of `--workers` (it takes the stream partitions k with k mod N = index)."""
            process = context.Process(
                target=run_worker_process,
                args=(config_path, node.config.store.dsn, settings.nats_url, index, settings.workers),
                name=f"gate-worker-{index}",
            )
            process.start()
            return process

        self._start_worker = worker
        self.workers = [worker(i) for i in range(settings.workers)]
        log.info("ingest through NATS %s with %d gate workers", settings.nats_url, len(self.workers))
        self.outage = OutageWatch(self.edge.edge.names.duplicate_window)
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._watch_outage, name="bus-outage", daemon=True)
        self._watch.start()

    def charge_refusals(self, limiter: RateLimiter, every: float = REFUSAL_POLL_SECONDS) -> None:
        """Charge the gate workers' refusals to their senders' buckets in `limiter`, every `every` seconds
        (`RefusalTally`), on a thread of its own until `stop`."""
        store = self.node.store
        window = 2 * self.node.config.ingest.rejection_bucket_seconds + self.node.config.epochs.length_seconds

        def poll() -> None:
            while not self._stopping.wait(every):
                since = self.node.clock.now() - window
                try:
                    charges = self.tally.new_refusals(store.rejection_tallies(since), since)  # type: ignore[attr-defined]
                except Exception as error:  # the store is unreachable: its own errors say so
                    log.debug("reading the workers' refusals failed: %s", error)
                    continue
                for source, count in charges.items():
                    limiter.charge(source, count)

        threading.Thread(target=poll, name="bus-refusals", daemon=True).start()

    def _watch_outage(self, interval: float = 15.0, restart_every: float = 5.0) -> None:
        """Every `restart_every` seconds: a gate worker that died is started again with its index (well
        before another worker would take its partitions over); every `interval` seconds: the backlog's
        age against the duplicate window (logs, metric)."""
        last_age = 0.0
        while not self._stopping.wait(restart_every):
            for index, process in enumerate(self.workers):
                if process.exitcode is not None and not self._stopping.is_set():
                    log.warning("gate worker %d exited with %s; starting it again", index, process.exitcode)
                    self.workers[index] = self._start_worker(index)
            if time.monotonic() - last_age < interval:
                continue
            last_age = time.monotonic()
            try:
                self.outage.observe(self.edge.oldest_pending_age())
            except Exception as error:  # NATS unreachable: the edge's own errors say so
                log.debug("bus backlog age unavailable: %s", error)

    def stop(self) -> None:
        self._stopping.set()
        for process in self.workers:
            process.terminate()
        for process in self.workers:
            process.join(timeout=30)
        self.edge.close()


class Terminated(SystemExit):
    """SIGTERM (a service manager's stop): raised in the main thread once the HTTP server has shut down, so
    that the node's orderly stop runs (workers, epoch process, chain snapshot, store)."""


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    """uvicorn answers SIGTERM by shutting the HTTP server down, then raises the signal again: with the
    default action the process died there, and none of `serve_node`'s clean-up ran (gate workers left to
    find their node gone, the epoch process' semaphores leaked, the embedded chain not snapshotted). This
    handler turns it into `Terminated` (exit code 0: a requested stop)."""
    raise Terminated(0)


def listen(host: str, port: int) -> socket.socket:
    """The node's HTTP socket, bound and listening before anything else starts (and before the settings
    are remembered); an address that cannot be had (in use, not this machine's) is a clear error, not a
    log line from the HTTP server after the node's other parts started. The socket's protocol is
    IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only for TCP-proto sockets, and without it
    every response waits ~40 ms for a delayed ACK (Nagle)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        listener = socket.socket(family, kind, proto)
    except OSError as error:
        raise ValueError(f"cannot listen on {host}:{port}: {error}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise ValueError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


def serve_node(data_dir: Path, settings: ServeSettings, catch_up: bool = False) -> None:
    """Run the node on wall-clock time until interrupted: HTTP (and MQTT) ingest, the epoch scheduler,
    settlement on the chain, `/metrics`. Raises BacklogRefused before serving anything (see
    `check_backlog`)."""
    from opendepin.clock import SimulatedClock, SystemClock
    from opendepin.config import load_config
    from opendepin.ingest.metrics import metrics_of
    from opendepin.ingest.signatures import prepare as prepare_signatures
    from opendepin.node import EpochProcess
    from opendepin.scheduler import EpochScheduler
    from opendepin.store.factory import open_store

    problems = settings.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    config = load_config(data_dir / "network.toml")
    store = open_store(config.store, data_dir)
    simulated = store.get_meta(SIMULATED_CLOCK_KEY)
    if simulated is not None:  # a `depin up` network: its time is the simulation's, not the wall clock's
        log.warning(
            "this data dir runs on `depin up`'s simulated clock: serving it at that time (%s), which does "
            "not advance (epochs close with `depin up`)",
            datetime.fromtimestamp(int(simulated), UTC).isoformat(),
        )
    clock = SimulatedClock(int(simulated)) if simulated is not None else SystemClock()
    node = Node(config, store, clock)
    check_backlog(node, catch_up)
    listener = listen(settings.host, settings.port)
    bus: BusMode | None = None
    chain: ChainConnector | None = None
    scheduler: EpochScheduler | None = None
    bridge = None
    main = threading.current_thread() is threading.main_thread()  # signals are the main thread's only
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main else None
    try:
        bus = BusMode(node, data_dir, settings) if settings.bus == "nats" else None
        metrics_of(node)
        prepare_signatures()  # compiled now, not in the first large batch a device sends
        node.epoch_process = EpochProcess(
            data_dir
        )  # epochs compute in their own process: ingest keeps a core
        if settings.mqtt is not None:
            from opendepin.ingest.mqtt import MqttIngest

            broker, _, broker_port = settings.mqtt.partition(":")
            bridge = MqttIngest(node, broker, int(broker_port or 1883), prefix=settings.mqtt_prefix).start()
            log.info("ingesting MQTT from %s (%s/reports/#)", settings.mqtt, settings.mqtt_prefix)
        connector = chain = ChainConnector(node, data_dir, settings).start()
        view = (
            None
            if connector.kind == "none"
            else BackendChainView(lambda: connector.backend, connector.kind, connector.lock)
        )
        app = create_app(node, view)
        explorer = app.state.explorer
        explorer.warm_in_background()  # the first visitor finds the latest epoch's pages built

        def closed(record: object) -> None:
            connector.wake(record)
            explorer.warm_in_background()

        scheduler = EpochScheduler(node, settings.scheduler_interval, on_close=closed).start()
        if bus is not None:
            app.state.bus_pending = bus.edge.pending
            app.state.bus_outage = bus.outage
            bus.charge_refusals(app.state.limiter)
        settings.save(data_dir)  # remembered once the node listens and its parts have started with them
        # proxy_headers off: uvicorn otherwise takes the client address from X-Forwarded-For on connections
        # from 127.0.0.1, so a local tunnel or a proxy passing the header through let each client name its own
        # address (a fresh rate-limit bucket per made-up address, rejections charged to someone else's)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, proxy_headers=False)
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        if main:
            signal.signal(signal.SIGTERM, previous)
        if scheduler is not None:
            scheduler.stop()
        if chain is not None:
            chain.stop()
        if bridge is not None:
            bridge.stop()
        if bus is not None:
            bus.stop()
        if node.epoch_process is not None:
            node.epoch_process.shutdown()
        node.store.close()
