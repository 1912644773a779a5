"""Closing, exporting and auditing epochs over the store: the shell around the pure epoch core.

Closing gathers the inputs (reports with their receive times, the device snapshot with signed onboarding
records, the previous epoch's cumulative rewards and sector state, the context the node served, the ingest
rejections) and stores the result with the snapshot. Exporting writes the bundle of docs/epoch-bundle.md
from the stored inputs and the stored rows. Auditing (`depin epoch verify N`) is exporting then verifying:
the same code recomputes from a store and from a downloaded bundle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from opendepin import __version__
from opendepin.config import NetworkConfig
from opendepin.reports.columns import ReportColumns
from opendepin.reports.envelope import compute_report_id
from opendepin.rewards.audit import AuditReport, verify_bundle
from opendepin.rewards.bundle import (
    EpochBundle,
    EpochOutputs,
    SignedWire,
    encode_bundle,
    network_section,
)
from opendepin.rewards.digest import device_from_row
from opendepin.rewards.epoch import EpochResult, process_epoch, window_for
from opendepin.rewards.inputs import EpochInputs
from opendepin.sectors.base import Challenge, DeviceInfo, SectorPlugin
from opendepin.sectors.challenges import challenge_row
from opendepin.store.base import EpochRecord, Store, StoredReport

log = logging.getLogger(__name__)

ContextSource = Callable[[int], Mapping[str, Any]]
"""Epoch number → the context the node served during it (e.g. challenge entropy)."""
PriceSource = Callable[[], int | None]
"""The token price now (USD per whole token × 10**18), or None when no oracle is known."""
ChallengeSource = Callable[[int, int], Mapping[str, Sequence[Challenge]]]
"""(window start, end) → per sector, the challenges issued for it (ChallengeService.for_epoch)."""


def no_price() -> int | None:
    return None


def no_challenges(start: int, end: int) -> Mapping[str, Sequence[Challenge]]:
    return {}


def receive_time_kinds(sectors: Mapping[str, SectorPlugin]) -> frozenset[str]:
    """Report kinds counted in the epoch in which they arrive (store-and-forward devices)."""
    return frozenset(
        kind
        for plugin in sectors.values()
        for kind in plugin.report_kinds()
        if plugin.ingest_policy(kind).assign_by == "receive_time"
    )


def snapshot_devices(rows: Sequence[Sequence[Any]]) -> tuple[dict[str, DeviceInfo], dict[str, Any]]:
    """Devices and onboarding records from stored snapshot rows (6-field rows predate attributes)."""
    devices: dict[str, DeviceInfo] = {}
    onboarding: dict[str, Any] = {}
    for row in rows:
        devices[row[0]] = device_from_row(row)
        if len(row) > 7 and row[7]:
            onboarding[row[0]] = dict(row[7])
    return devices, onboarding


class EpochService:
    """Epoch closing, export and audit for one network over one store."""

    def __init__(
        self,
        config: NetworkConfig,
        sectors: Mapping[str, SectorPlugin],
        store: Store,
        context_source: ContextSource,
        price_source: PriceSource = no_price,
        challenge_source: ChallengeSource = no_challenges,
    ) -> None:
        self.config = config
        self.sectors = sectors
        self.store = store
        self.context_source = context_source
        self.price_source = price_source
        self.challenge_source = challenge_source
        self.late_kinds = receive_time_kinds(sectors)

    def epoch_reports(self, start: int, end: int) -> list[StoredReport]:
        """The window's reports: by device time, except kinds counted by receive time (by report id)."""
        late_kinds = self.late_kinds
        by_ts = [r for r in self.store.stored_reports_between(start, end) if r.record.kind not in late_kinds]
        if not late_kinds:
            return by_ts
        received = self.store.stored_reports_received_between(start, end)
        late = [r for r in received if r.record.kind in late_kinds]
        return sorted(by_ts + late, key=lambda r: r.record.report_id)

    def epoch_report_columns(self, start: int, end: int, from_blocks: bool = False) -> ReportColumns:
        """`epoch_reports` as columns, read in bulk: the same reports in the same order. `from_blocks`: from
        the store's report blocks where they hold the whole window (closing an epoch; a recomputation reads
        the rows, so that it checks what the store's report table holds)."""

        def read(by_receive_time: bool) -> pl.DataFrame:
            if from_blocks:
                frame = self.store.logged_report_frame(start, end, by_receive_time)
                if frame is not None:
                    return frame
                log.info(
                    "epoch window [%d, %d): reports read from their rows (no complete blocks)", start, end
                )
            return self.store.report_frame(start, end, by_receive_time)

        late_kinds = self.late_kinds
        frame = read(False)
        if not late_kinds:
            return ReportColumns(frame)
        late = sorted(late_kinds)
        by_ts = frame.filter(~pl.col("kind").is_in(late))
        received = read(True)
        return ReportColumns(
            pl.concat([by_ts, received.filter(pl.col("kind").is_in(late))]).sort("report_id")
        )

    def _prior(self, number: int) -> tuple[dict[str, int], Mapping[str, Any]]:
        prior = self.store.get_epoch(number - 1) if number > 0 else None
        if prior is None:
            return {}, {}
        return {owner: cum for owner, _amount, cum in prior.owner_rewards}, prior.sector_state

    def _inputs(
        self,
        number: int,
        devices: Mapping[str, DeviceInfo],
        onboarding: Mapping[str, Any],
        context: Mapping[str, Any],
        price_wad: int | None,
        from_blocks: bool = False,
    ) -> EpochInputs:
        """Epoch `number`'s inputs around a device snapshot, context and price: the report log of its
        window, the previous epoch's rows, rejections, usage receipts, challenges, per-device state."""
        window = window_for(self.config, number)
        prior_cumulative, prior_state = self._prior(number)
        return EpochInputs(
            window=window,
            devices=devices,
            reports=self.epoch_report_columns(window.start, window.end, from_blocks),
            prior_cumulative=prior_cumulative,
            prior_state=prior_state,
            context=context,
            onboarding=onboarding,
            rejections=self.store.rejection_counts(window.start, window.end),
            usage=[stored.record for stored in self.store.usage_between(window.start, window.end)],
            price_wad=price_wad,
            challenges=self.challenge_source(window.start, window.end),
            prior_device_state=self.store.prior_device_state(number),
        )

    def gather_inputs(self, number: int) -> EpochInputs:
        """Epoch `number`'s inputs as they stand now: devices onboarded before its end with their
        onboarding records, the context served and the oracle price now, and the rest from the store."""
        end = window_for(self.config, number).end
        registered, records = self.store.devices_and_records()
        devices = {d.device_id: d for d in registered.values() if d.onboarded_at < end}
        onboarding = {d: records[d] for d in devices if d in records}
        return self._inputs(
            number, devices, onboarding, self.context_source(number), self.price_source(), from_blocks=True
        )

    def stored_inputs(self, record: EpochRecord) -> EpochInputs:
        """A closed epoch's inputs from the store: its stored device snapshot, context and price, and the
        rest as `gather_inputs` reads it."""
        devices, onboarding = snapshot_devices(record.inputs.get("devices", []))
        context = dict(record.inputs.get("context", {}))
        return self._inputs(record.number, devices, onboarding, context, record.inputs.get("price_wad"))

    def compute(self, inputs: EpochInputs) -> EpochResult:
        return process_epoch(self.config, self.sectors, inputs)

    def record_of(self, inputs: EpochInputs, result: EpochResult) -> EpochRecord:
        """What the store keeps of a closed epoch: results and the inputs not kept elsewhere."""
        return EpochRecord(
            number=inputs.window.number,
            start=inputs.window.start,
            end=inputs.window.end,
            manifest=result.manifest,
            inputs={
                "context": dict(inputs.context),
                "devices": inputs.device_rows,
                "price_wad": inputs.price_wad,
            },
            verdicts=result.verdicts,
            device_rewards=result.device_rewards,
            owner_rewards=result.owner_rewards,
            notes=result.notes,
            sector_state=result.sector_state,
            device_state=result.device_state,
        )

    def bundle(self, number: int) -> EpochBundle:
        """The bundle of closed epoch `number` from what the store holds (inputs and published rows)."""
        record = self.store.get_epoch_detail(number)
        if record is None:
            raise KeyError(f"epoch {number} is not closed")
        inputs = self.stored_inputs(record)
        wires = [
            SignedWire(stored.envelope, stored.signature, stored.record.received_at)
            for stored in self.epoch_reports(inputs.window.start, inputs.window.end)
        ]
        return EpochBundle(
            network=network_section(self.config),
            window=inputs.window,
            devices=inputs.device_rows,
            reports=sorted(wires, key=lambda w: compute_report_id(w.envelope)),
            prior_cumulative=dict(inputs.prior_cumulative),
            prior_state=dict(inputs.prior_state),
            context=dict(inputs.context),
            rejections=dict(inputs.rejections),
            usage=[
                SignedWire(
                    stored.receipt, stored.signature, stored.record.received_at, stored.countersignature
                )
                for stored in self.store.usage_between(inputs.window.start, inputs.window.end)
            ],
            price_wad=inputs.price_wad,
            challenges={
                sector: [challenge_row(c) for c in challenges]
                for sector, challenges in sorted(inputs.challenges.items())
            },
            prior_device_state={k: dict(v) for k, v in inputs.prior_device_state.items()},
            outputs=EpochOutputs.of(record, self.store.device_state_changes(number)),
            engine_version=str(record.manifest.get("engine_version", __version__)),
        )

    def export(self, number: int) -> bytes:
        """The bundle file of epoch `number` (deterministic bytes)."""
        return encode_bundle(self.bundle(number))

    def audit(self, number: int) -> AuditReport:
        """Recompute a closed epoch from the store and compare every stored row with the recomputation.
        Rows too damaged to read are reported as such (a KeyError still means "not closed")."""
        try:
            bundle = self.bundle(number)
        except (ValueError, TypeError, IndexError) as error:
            return AuditReport(number, input_problems=[f"stored rows cannot be read: {error}"])
        return verify_bundle(bundle)
