"""The node: onboarding, ingest, usage, challenges, epoch closing and proofs as services over one store.

The node names no sector: sectors come from entry points (`sectors/registry.py`) and bring their report
kinds, ingest policies, attributes, challenges and routes. Each service has its own lock: ingest keeps
accepting while an epoch computes (the epoch being closed is already closed to new reports), proofs come
from a tree cached per epoch.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from opendepin.clock import Clock
from opendepin.config import NetworkConfig
from opendepin.identity.keys import verify_signature
from opendepin.ingest.gate import GateResult
from opendepin.market.receipts import UsageRecord
from opendepin.reports.envelope import compute_report_id
from opendepin.reports.model import ReportRecord
from opendepin.rewards.audit import AuditReport
from opendepin.rewards.epoch import EpochResult, process_epoch, window_for
from opendepin.rewards.inputs import EpochInputs
from opendepin.sectors.base import Challenge, DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.services.challenges import ChallengeService
from opendepin.services.devices import DeviceRegistry
from opendepin.services.epochs import EpochService, PriceSource, no_price
from opendepin.services.ingest import IngestService
from opendepin.services.onboarding import OnboardingService, OnboardRequest
from opendepin.services.proofs import ProofService
from opendepin.services.usage import CreditBalance, UsageResult, UsageService
from opendepin.store.base import EpochRecord, Store

log = logging.getLogger(__name__)

__all__ = ["BlockHashSource", "EpochNotDue", "EpochProcess", "Node", "OnboardRequest"]


class EpochNotDue(RuntimeError):
    """The epoch's window (plus the lateness allowance) has not passed yet."""


BlockHashSource = Callable[[], str]
"""Returns the settlement chain's latest block hash (0x-hex)."""


def close_epoch_in_process(
    config: NetworkConfig, data_dir: Path, number: int, now: int, price_wad: int | None
) -> None:
    """Close epoch `number` in this (child) process over its own connection to the node's store: gather,
    compute and save, so the serving process keeps its CPU for ingest (Python threads share one core)."""
    from opendepin.clock import SimulatedClock
    from opendepin.store.factory import open_store

    store = open_store(config.store, data_dir)
    try:
        node = Node(config, store, SimulatedClock(now))
        node.price_source = lambda: price_wad
        node.close_epoch(number)
    finally:
        store.close()


PARENT_POLL_SECONDS = 0.5
"""How often the epoch process looks whether the node that started it is still there."""


def exit_with_parent(parent: int) -> None:
    """Initializer of the epoch process: a daemon thread ends it as soon as its parent (`parent`, the node)
    is gone. A node killed with SIGKILL cannot shut its pool down; without this its epoch process would wait
    for work forever (a quarter of a GiB each), or go on closing an epoch beside the restarted node, which
    closes it again. Ended mid-close, the close's transaction is rolled back by the store."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class EpochProcess:
    """Runs epoch closes in a separate process (spawned once, reused, ended with the node), for a node
    serving traffic."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def pid(self) -> int:
        """The epoch process's pid (started if it was not)."""
        return int(self._executor().submit(os.getpid).result())

    def close(self, config: NetworkConfig, number: int, now: int, price_wad: int | None) -> None:
        pool = self._executor()
        pool.submit(close_epoch_in_process, config, self.data_dir, number, now, price_wad).result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class Node:
    """One network's node over one store (see the module docstring for its services)."""

    def __init__(
        self, config: NetworkConfig, store: Store, clock: Clock, epoch_process: EpochProcess | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sectors = load_sectors(config)
        for maker in config.makers:
            store.add_maker(maker.address, maker.name)
        self.registry = DeviceRegistry(store)
        self.block_hash_source: BlockHashSource = self._local_block_hash
        self.price_source: PriceSource = no_price
        numbers = store.epoch_numbers()
        self.next_epoch = numbers[-1] + 1 if numbers else 0
        self._closing: int | None = None
        self._close_lock = threading.Lock()
        self.epoch_process = epoch_process
        self.challenges = ChallengeService(
            self.sectors, store, clock, self.registry, lambda: self.block_hash_source()
        )
        self.onboarding = OnboardingService(config, self.sectors, store, clock, self.registry)
        self.ingestion = IngestService(
            config, self.sectors, store, clock, self.registry, lambda: self.closed_until
        )
        self.usage = UsageService(self.sectors, store, clock, self.registry)
        self.epochs = EpochService(
            config,
            self.sectors,
            store,
            self.epoch_context,
            lambda: self.price_source(),
            self.challenges.for_epoch,
        )
        self.proofs = ProofService(store)

    # the chain the node settles on lends it entropy, prices and credit balances
    def use_chain(
        self, block_hash: BlockHashSource, price: PriceSource, credit_balance: CreditBalance | None
    ) -> None:
        self.block_hash_source = block_hash
        self.price_source = price
        self.usage.credit_balance = credit_balance

    def _local_block_hash(self) -> str:
        """Without a chain: a hash of the network name and the latest closed root (changes every epoch)."""
        latest = self.store.get_epoch(self.next_epoch - 1) if self.next_epoch else None
        root = str(latest.manifest.get("root")) if latest is not None else "genesis"
        return "0x" + hashlib.sha256(f"{self.config.name}|{root}".encode()).hexdigest()

    # what sectors' routes may use (SectorServices)
    def now(self) -> int:
        return self.clock.now()

    def device(self, device_id: str) -> DeviceInfo | None:
        return self.registry.get(device_id)

    def current_challenge(self, kind: str) -> Sequence[Challenge]:
        return self.challenges.current(kind)

    def sector_state(self, sector: str) -> Mapping[str, Any]:
        latest = self.store.get_epoch(self.next_epoch - 1) if self.next_epoch else None
        return dict(latest.sector_state.get(sector, {})) if latest is not None else {}

    def sector_reports(self, sector: str, since: int) -> Sequence[ReportRecord]:
        plugin = self.sectors.get(sector)
        kinds = set(plugin.report_kinds()) if plugin is not None else set()
        stored = self.store.stored_reports_received_between(since, self.clock.now() + 1)
        records = [s.record for s in stored if s.record.kind in kinds]
        return sorted(records, key=lambda r: (r.received_at, r.report_id))

    def sector_challenges(self, sector: str, since: int) -> Sequence[Challenge]:
        return list(self.challenges.for_epoch(since, self.clock.now() + 1).get(sector, []))

    def sector_device_state(self, sector: str) -> Mapping[str, Mapping[str, Any]]:
        return self.store.prior_device_state(self.next_epoch).get(sector, {})

    def sector_usage(self, sector: str, since: int) -> Sequence[UsageRecord]:
        stored = self.store.usage_between(since, self.clock.now() + 1)
        records = [s.record for s in stored if s.record.sector == sector]
        return sorted(records, key=lambda r: (r.received_at, r.receipt_id))

    @property
    def kinds(self) -> dict[str, type[BaseModel]]:
        return self.ingestion.kinds

    def epoch_context(self, number: int) -> dict[str, Any]:
        """Extra epoch inputs from the shell (challenges and usage have their own): none today."""
        return {}

    @property
    def closed_until(self) -> int:
        """Reports timed before this instant can no longer change an epoch (one being closed included)."""
        number = self.next_epoch if self._closing is None else self._closing + 1
        return window_for(self.config, number).start

    # onboarding, ingest, usage
    def onboard(self, request: OnboardRequest) -> DeviceInfo:
        return self.onboarding.onboard(request)

    def ingest(self, wires: Sequence[bytes], source: str = "local") -> list[GateResult]:
        return self.ingestion.ingest(wires, source)

    def record_usage(self, wires: Sequence[bytes]) -> list[UsageResult]:
        return self.usage.record(wires)

    # epochs
    def gather_inputs(self, number: int) -> EpochInputs:
        """Epoch `number`'s inputs as they stand in the store now (see EpochService.gather_inputs)."""
        return self.epochs.gather_inputs(number)

    def compute_epoch(self, inputs: EpochInputs) -> EpochResult:
        return process_epoch(self.config, self.sectors, inputs)

    def close_epoch(self, number: int) -> EpochRecord:
        """Close `number` (the next open epoch, past its lateness cutoff); idempotent. Ingest goes on: the
        epoch is first marked closed to new reports, in-flight batches are let finish, then it computes."""
        existing = self.store.get_epoch(number)
        if existing is not None:
            return existing
        window = window_for(self.config, number)
        if number != self.next_epoch:
            raise EpochNotDue(f"epoch {number} cannot close before epoch {self.next_epoch}")
        if self.clock.now() < window.end + self.config.epochs.lateness_seconds:
            raise EpochNotDue(f"epoch {number} ends at {window.end}; wait for the lateness cutoff")
        with self._close_lock:
            existing = self.store.get_epoch(number)
            if existing is not None:
                return existing
            self._closing = number
            try:
                self.ingestion.drain()
                if self.epoch_process is not None:
                    self.epoch_process.close(self.config, number, self.clock.now(), self.price_source())
                    closed = self.store.get_epoch(number)
                    if closed is None:  # pragma: no cover - the child saved it or raised
                        raise RuntimeError(f"epoch {number} was not saved by the closing process")
                    record = closed
                else:
                    inputs = self.gather_inputs(number)
                    record = self.epochs.record_of(inputs, self.compute_epoch(inputs))
                    self.store.save_epoch(record)
                self.next_epoch = number + 1
            finally:
                self._closing = None
        self.prune_report_blocks(window.end)
        return record

    def prune_report_blocks(self, end: int) -> None:
        """After a close: drop the report blocks no later close reads, a few per transaction (ingest goes on
        meanwhile); a crash before it leaves them for the next close's prune."""
        started = time.perf_counter()
        pruned = self.store.prune_report_blocks(end)
        if pruned:
            seconds = time.perf_counter() - started
            log.info("%d report blocks before %d pruned in %.1f s", pruned, end, seconds)

    def close_due_epochs(self) -> list[EpochRecord]:
        closed = []
        now = self.clock.now()
        while now >= window_for(self.config, self.next_epoch).end + self.config.epochs.lateness_seconds:
            closed.append(self.close_epoch(self.next_epoch))
        return closed

    def check_stored_reports(self, number: int) -> list[str]:
        """Re-check every stored report of epoch `number`: its id is the hash of its signed bytes and its
        signature verifies with the device key. Returns the ids that fail (empty when the log is intact)."""
        window = window_for(self.config, number)
        bad = []
        for stored in self.epochs.epoch_reports(window.start, window.end):
            record = stored.record
            key_type, _, hex_key = record.device_id.partition(":")
            intact = compute_report_id(stored.envelope) == record.report_id and verify_signature(
                key_type, bytes.fromhex(hex_key), stored.envelope, stored.signature
            )
            if not intact:
                bad.append(record.report_id)
        return bad

    def verify_epoch(self, number: int) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """Recompute a closed epoch from its stored inputs: (stored manifest, recomputed manifest)."""
        stored = self.store.get_epoch(number)
        if stored is None:
            raise KeyError(f"epoch {number} is not closed")
        return stored.manifest, self.compute_epoch(self.epochs.stored_inputs(stored)).manifest

    def audit_epoch(self, number: int) -> AuditReport:
        """Recompute a closed epoch and compare every stored row (EpochService.audit)."""
        return self.epochs.audit(number)

    def export_epoch(self, number: int) -> bytes:
        """The self-contained bundle of a closed epoch (docs/epoch-bundle.md)."""
        return self.epochs.export(number)

    def proof(self, number: int, address: str) -> dict[str, Any]:
        """The Merkle proof of `address`'s cumulative reward after epoch `number` (cached tree)."""
        return self.proofs.proof(number, address)
