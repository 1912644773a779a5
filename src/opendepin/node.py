"""The node: the imperative shell that wires the store, the clock and the sectors to the pure core."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from opendepin.clock import Clock
from opendepin.config import NetworkConfig
from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    OnboardingError,
    check_attestation,
    check_location,
    merge_attributes,
    onboarding_record,
)
from opendepin.identity.keys import parse_device_id, verify_signature
from opendepin.identity.wallets import normalize_address
from opendepin.ingest.gate import GateResult, GateState, gate_report
from opendepin.reports.envelope import compute_report_id
from opendepin.rewards.epoch import EpochInputs, EpochResult, process_epoch, window_for
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.poc import ENTROPY_CONTEXT_KEY, Entropy, PocParams, get_entropy
from opendepin.store.base import EpochRecord, Rejection, Store, StoredReport

MAX_KEPT_REJECTED_BYTES = 2_048


class EpochNotDue(RuntimeError):
    """The epoch's window (plus the lateness allowance) has not passed yet."""


class EntropyUnavailable(RuntimeError):
    """This network does not run beacon/witness proof of coverage, so it serves no challenge entropy."""


BlockHashSource = Callable[[], str]
"""Returns the settlement chain's latest block hash (0x-hex)."""


@dataclass(frozen=True, slots=True)
class OnboardRequest:
    attestation: Attestation
    location: LocationAssertion | None


class Node:
    """Ingest, onboarding and epoch closing over one store."""

    def __init__(self, config: NetworkConfig, store: Store, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sectors = load_sectors(config)
        self.kinds: dict[str, type[BaseModel]] = {}
        for plugin in self.sectors.values():
            self.kinds.update(plugin.report_kinds())
        for maker in config.makers:
            store.add_maker(maker.address, maker.name)
        self._lock = threading.Lock()
        self._devices = store.devices()
        self._last_seq = store.last_seqs()
        numbers = store.epoch_numbers()
        self.next_epoch = numbers[-1] + 1 if numbers else 0
        self.block_hash_source: BlockHashSource = self._local_block_hash

    # challenge entropy (specs/wireless-poc.md, Roles)
    @property
    def poc_params(self) -> PocParams | None:
        wireless = self.sectors.get("wireless")
        params = getattr(wireless, "params", None)
        return params.poc if isinstance(params, WirelessParams) else None

    def _local_block_hash(self) -> str:
        """Without a chain: a hash of the network name and the latest closed root (changes every epoch)."""
        latest = self.store.get_epoch(self.next_epoch - 1) if self.next_epoch else None
        root = str(latest.manifest.get("root")) if latest is not None else "genesis"
        return "0x" + hashlib.sha256(f"{self.config.name}|{root}".encode()).hexdigest()

    def current_entropy(self) -> Entropy:
        """The entropy devices must cite now; recorded so the epoch can check what was served when."""
        params = self.poc_params
        if params is None:
            raise EntropyUnavailable(
                "this network has no [sectors.wireless.poc]; no challenge entropy is served"
            )
        block_hash = self.block_hash_source()
        entropy = get_entropy(block_hash, self.clock.now(), params)
        self.store.record_entropy(entropy.value, entropy.timestamp, block_hash)
        return entropy

    def epoch_context(self, number: int) -> dict[str, Any]:
        """Extra epoch inputs from the shell: the entropy served during (and just before) the window."""
        params = self.poc_params
        if params is None:
            return {}
        window = window_for(self.config, number)
        return {
            ENTROPY_CONTEXT_KEY: self.store.entropy_between(
                window.start - params.entropy_lifespan_s, window.end
            )
        }

    @property
    def closed_until(self) -> int:
        return window_for(self.config, self.next_epoch).start

    # onboarding
    def onboard(self, request: OnboardRequest) -> DeviceInfo:
        """Check the maker's attestation and the owner's location assertion, then register the device."""
        attestation = request.attestation
        maker = check_attestation(self.config.name, attestation, self.store.makers())
        key = parse_device_id(attestation.device_id)
        location = None
        owner_attributes: Mapping[str, Any] = {}
        if request.location is not None:
            if request.location.device_id != attestation.device_id:
                raise OnboardingError("location.device_mismatch", "location assertion names another device")
            location = check_location(self.config.name, request.location, attestation.owner)
            owner_attributes = request.location.attributes
        device = DeviceInfo(
            device_id=key.device_id,
            owner=normalize_address(attestation.owner),
            maker=maker,
            key_type=key.key_type,
            location=location,
            onboarded_at=self.clock.now(),
            attributes=merge_attributes(attestation.attributes, owner_attributes),
        )
        record = onboarding_record(attestation, request.location, maker)
        with self._lock:
            if not self.store.add_device(device, record):
                existing = self._devices.get(device.device_id) or self.store.get_device(device.device_id)
                assert existing is not None
                return existing
            self._devices[device.device_id] = device
        return device

    # ingest
    def ingest(self, wires: Sequence[bytes]) -> list[GateResult]:
        """Gate a batch and store it durably (one transaction) before returning the per-report results."""
        with self._lock:
            now = self.clock.now()
            batch_ids: set[str] = set()

            class _Seen:
                def __contains__(inner, report_id: object) -> bool:
                    return report_id in batch_ids or (
                        isinstance(report_id, str) and self.store.has_report(report_id)
                    )

            state = GateState(self._devices, self._last_seq, _Seen(), self.closed_until)
            results: list[GateResult] = []
            accepted: list[StoredReport] = []
            rejected: list[Rejection] = []
            for wire in wires:
                result = gate_report(wire, state, now, self.config.ingest, self.kinds)
                results.append(result)
                if result.accepted and result.record is not None and result.signed is not None:
                    accepted.append(
                        StoredReport(result.record, result.signed.envelope_bytes, result.signed.signature)
                    )
                    batch_ids.add(result.record.report_id)
                    self._last_seq[result.record.device_id] = result.record.seq
                else:
                    rejected.append(
                        Rejection(
                            result.reason,
                            result.message,
                            now,
                            result.report_id,
                            result.device_id,
                            bytes(wire[:MAX_KEPT_REJECTED_BYTES]),
                        )
                    )
            try:
                self.store.append(accepted, rejected)
            except BaseException:
                self._last_seq = self.store.last_seqs()  # nothing was stored: forget the batch's seqs
                raise
            return results

    # epochs
    def gather_inputs(self, number: int) -> EpochInputs:
        """Epoch `number`'s inputs: reports by device time, devices onboarded before its end."""
        window = window_for(self.config, number)
        devices = {d.device_id: d for d in self.store.devices().values() if d.onboarded_at < window.end}
        prior = self.store.get_epoch(number - 1) if number > 0 else None
        return EpochInputs(
            window=window,
            devices=devices,
            reports=self.store.reports_between(window.start, window.end),
            prior_cumulative={owner: cum for owner, _amount, cum in prior.owner_rewards} if prior else {},
            prior_state=prior.sector_state if prior else {},
            context=self.epoch_context(number),
        )

    def compute_epoch(self, inputs: EpochInputs) -> EpochResult:
        return process_epoch(self.config, self.sectors, inputs)

    def close_epoch(self, number: int) -> EpochRecord:
        """Close `number` (must be the next open epoch and past its lateness cutoff); idempotent."""
        existing = self.store.get_epoch(number)
        if existing is not None:
            return existing
        window = window_for(self.config, number)
        if number != self.next_epoch:
            raise EpochNotDue(f"epoch {number} cannot close before epoch {self.next_epoch}")
        if self.clock.now() < window.end + self.config.epochs.lateness_seconds:
            raise EpochNotDue(f"epoch {number} ends at {window.end}; wait for the lateness cutoff")
        with self._lock:
            inputs = self.gather_inputs(number)
            result = self.compute_epoch(inputs)
            record = EpochRecord(
                number=number,
                start=window.start,
                end=window.end,
                manifest=result.manifest,
                inputs={
                    "context": dict(inputs.context),
                    "devices": [
                        [d.device_id, d.key_type, d.owner, d.maker, d.location, d.onboarded_at]
                        for _, d in sorted(inputs.devices.items())
                    ],
                },
                verdicts=result.verdicts,
                device_rewards=result.device_rewards,
                owner_rewards=result.owner_rewards,
                notes=result.notes,
                sector_state=result.sector_state,
            )
            self.store.save_epoch(record)
            self.next_epoch = number + 1
        return record

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
        for stored in self.store.stored_reports_between(window.start, window.end):
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
        inputs = self.gather_inputs(number)
        snapshot = {
            row[0]: DeviceInfo(
                device_id=row[0],
                key_type=row[1],
                owner=row[2],
                maker=row[3],
                location=row[4],
                onboarded_at=row[5],
            )
            for row in stored.inputs["devices"]
        }
        inputs = EpochInputs(
            window=inputs.window,
            devices=snapshot,
            reports=inputs.reports,
            prior_cumulative=inputs.prior_cumulative,
            prior_state=inputs.prior_state,
            context=stored.inputs.get("context", {}),
        )
        return stored.manifest, self.compute_epoch(inputs).manifest
