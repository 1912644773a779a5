"""What each explorer page shows, computed from the node's store (and the chain, when the node has one).

Every view is plain data (JSON-ready; amounts as Python ints, turned into strings at the API edge by
`api.exact.exact_json`). Closed epochs never change, so what is derived from one is cached: the map of a
10,000-device epoch is computed once, then served from memory.

Definitions the pages state:
- a device's **sector** in an epoch: the sectors of the report kinds it sent and of the categories it earned
  in; a map of one sector counts only those reports and rewards;
- **active**: at least one valid report in the epoch; **flagged**: an invalid report, a device note (a
  penalty with evidence) or an authenticated ingest rejection in the epoch;
- **under-covered** cell (at the map's resolution): a cell next to the network (its neighbours hold
  devices) or holding devices, where no device earned anything in the epoch — where a new honest device
  would add coverage.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

import h3

from opendepin.explorer.chain import ChainView
from opendepin.explorer.reads import ANY_KIND, StoreReads
from opendepin.identity.attestation import is_canonical_cell
from opendepin.node import Node
from opendepin.rewards.digest import device_from_row
from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import EpochRecord

MAP_RESOLUTIONS = (9, 8, 7, 6, 5, 4)
"""Resolutions the map tries, finest first: the first that shows at most MAX_MAP_CELLS cells wins."""
MAX_MAP_CELLS = 2_000
CACHED_EPOCHS = 8
DEVICE_PAGE = 200
"""Devices listed per page of a cell."""
REWARD_PAGE = 10
"""Epochs per page of a device's reward history."""
NETWORK_EPOCHS = 90
"""Epochs the network page charts by default."""
DISTANT_FUTURE = 2**62

EPOCH_SUMMARY_KEYS = ("root", "emitted", "paid", "rewarded_devices", "leaf_count", "reports")
"""Manifest fields an epoch's summary shows."""
EPOCH_PAGE = 50
"""Epochs per page of the epoch list."""

NETWORK_DEFINITIONS = {
    "paid": "tokens the epoch rewarded (owners claim them on chain, where they are minted)",
    "burned": "tokens burned for the data credits users spent in the epoch (their USD value at the epoch's "
    "price)",
    "supply": "tokens rewarded before the first epoch shown, plus rewarded minus burned since",
    "revenue_usd": "what users paid for service in the epoch",
    "incentives_usd": "the epoch's rewards at the epoch's token price",
    "devices_left": "active in the epoch before, not in this one",
    "lag": "seconds from a report's device time to its receipt by the node",
}

T = TypeVar("T")
log = logging.getLogger(__name__)


class Missing(LookupError):
    """What was asked for does not exist: `reason` is the API's reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class DeviceEpoch:
    """One device in one closed epoch, aggregated."""

    verdicts: dict[str, dict[str, int]] = field(default_factory=dict)
    """report kind → reason → count"""
    rewards: dict[str, tuple[int, int]] = field(default_factory=dict)
    """category → (units, amount)"""
    notes: list[str] = field(default_factory=list)
    rejections: int = 0
    """authenticated ingest rejections in the epoch's window"""


@dataclass(frozen=True)
class EpochDigest:
    """A closed epoch as the map and lists need it."""

    number: int
    start: int
    end: int
    manifest: Mapping[str, Any]
    devices: Mapping[str, DeviceInfo]
    """the epoch's device snapshot (who was onboarded, where, owned by whom)"""
    per_device: Mapping[str, DeviceEpoch]
    total_units: Mapping[str, int]
    """category → units of every device (what a device's units are divided by)"""


class _Cache:
    """A small LRU of immutable results (closed epochs never change)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _sum_counts(counts: Iterable[Mapping[str, int]], ok: bool) -> int:
    return sum(n for by_reason in counts for reason, n in by_reason.items() if (reason == "ok") == ok)


def boundary(cell: str) -> list[float]:
    """The cell's outline as [lat, lng, lat, lng, …], 6 decimals (≈ 0.1 m)."""
    return [round(x, 6) for point in h3.cell_to_boundary(cell) for x in point]


def parent_cell(cell: str, resolution: int) -> str:
    """`cell` at `resolution` (itself when it is already as coarse)."""
    return cell if h3.get_resolution(cell) <= resolution else h3.cell_to_parent(cell, resolution)


def choose_resolution(cells: Sequence[str], devices: int) -> int:
    """The finest of MAP_RESOLUTIONS at which the devices' `cells` fall into at most half as many map
    cells as there are devices (at least 32, at most MAX_MAP_CELLS): cells dense enough to show a pattern."""
    limit = min(MAX_MAP_CELLS, max(32, devices // 2))
    for resolution in MAP_RESOLUTIONS:
        if len({parent_cell(c, resolution) for c in cells}) <= limit:
            return resolution
    return MAP_RESOLUTIONS[-1]


def percentile(values: Sequence[int], share: float) -> int | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


class Explorer:
    """The explorer's views over one node (and optionally the chain it settles on)."""

    def __init__(self, node: Node, chain: ChainView | None = None) -> None:
        self.node = node
        self.chain = chain
        self.reads = StoreReads(node.store)
        self._digests = _Cache(CACHED_EPOCHS)
        self._maps = _Cache(CACHED_EPOCHS * 4)
        self._units = _Cache(CACHED_EPOCHS * 8)
        self._bundles = _Cache(CACHED_EPOCHS)
        self._records = _Cache(CACHED_EPOCHS)
        self._summaries: dict[int, dict[str, Any]] = {}
        self._facts = _Cache(NETWORK_EPOCHS * 2 + 2)
        self._warming = threading.Lock()
        self.kind_sector = {
            kind: name for name, plugin in sorted(node.sectors.items()) for kind in plugin.report_kinds()
        }
        self.one_sector = len(set(self.kind_sector.values())) <= 1
        """Every report kind belongs to one sector: verdicts need not be told apart by kind."""
        self.category_sector: dict[str, str] = {}
        for name, plugin in sorted(node.sectors.items()):
            for category in plugin.categories():
                self.category_sector.setdefault(category, name)
            usage = plugin.usage_category()
            if usage:
                self.category_sector.setdefault(usage, name)

    # --- helpers ---------------------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        return self.node.store

    def token(self) -> dict[str, Any]:
        token = self.node.config.token
        return {"symbol": token.symbol, "decimals": token.decimals, "name": token.name}

    def latest_epoch(self) -> int | None:
        numbers = self.store.epoch_numbers()
        return numbers[-1] if numbers else None

    def _epoch_number(self, number: int | None) -> int:
        if number is None:
            latest = self.latest_epoch()
            if latest is None:
                raise Missing("epoch.none_closed", "no epoch is closed yet; the map fills after the first")
            return latest
        return number

    def record(self, number: int) -> EpochRecord:
        """Closed epoch `number` as stored (cached: reading one parses its whole device snapshot)."""

        def make() -> EpochRecord:
            record = self.store.get_epoch(number)
            if record is None:
                raise Missing("epoch.not_closed", f"epoch {number} is not closed")
            return record

        return self._records.get(number, make)

    def digest(self, number: int) -> EpochDigest:
        """Closed epoch `number` aggregated per device (cached)."""
        return self._digests.get(number, lambda: self._make_digest(number))

    def _make_digest(self, number: int) -> EpochDigest:
        record = self.record(number)
        devices = {row[0]: device_from_row(row) for row in record.inputs.get("devices", [])}
        per_device: dict[str, DeviceEpoch] = {}

        def entry(device_id: str) -> DeviceEpoch:
            return per_device.setdefault(device_id, DeviceEpoch())

        for device_id, kinds in self.reads.verdict_counts(number, by_kind=not self.one_sector).items():
            entry(device_id).verdicts = {kind: dict(reasons) for kind, reasons in kinds.items()}
        totals: dict[str, int] = {}
        for device_id, category, units, amount in self.reads.rewards(number):
            entry(device_id).rewards[category] = (units, amount)
            if units > 0:
                totals[category] = totals.get(category, 0) + units
        for device_id, reason in self.reads.notes(number):
            entry(device_id).notes.append(reason)
        for source, reasons in self.store.rejection_sources(record.start, record.end).items():
            if source.startswith("device:"):
                entry(source.removeprefix("device:")).rejections += sum(reasons.values())
        self._units.get(number, lambda: dict(totals))
        return EpochDigest(
            record.number, record.start, record.end, record.manifest, devices, per_device, totals
        )

    def total_units(self, number: int) -> dict[str, int]:
        """category → units of every device in closed epoch `number` (positive units only)."""

        def make() -> dict[str, int]:
            totals: dict[str, int] = {}
            for _device, category, units, _amount in self.reads.rewards(number):
                if units > 0:
                    totals[category] = totals.get(category, 0) + units
            return totals

        return self._units.get(number, make)

    def _in_sector(self, sector: str | None, kind_or_category: str, table: Mapping[str, str]) -> bool:
        if sector is None:
            return True
        if kind_or_category == ANY_KIND:  # one sector's kinds only (see one_sector)
            return set(self.kind_sector.values()) == {sector}
        return table.get(kind_or_category) == sector

    def _device_summary(self, digest: EpochDigest, device_id: str, sector: str | None) -> dict[str, Any]:
        """Counts and reward of one device in one epoch, restricted to `sector` (None: all)."""
        data = digest.per_device.get(device_id, DeviceEpoch())
        verdicts = [r for k, r in data.verdicts.items() if self._in_sector(sector, k, self.kind_sector)]
        valid, invalid = _sum_counts(verdicts, True), _sum_counts(verdicts, False)
        reward = sum(
            amount
            for category, (_units, amount) in data.rewards.items()
            if self._in_sector(sector, category, self.category_sector)
        )
        in_sector = (
            sector is None
            or bool(verdicts)
            or any(self.category_sector.get(c) == sector for c in data.rewards)
        )
        return {
            "in_sector": in_sector or len(self.node.sectors) <= 1,
            "valid_reports": valid,
            "invalid_reports": invalid,
            "reward": reward,
            "notes": list(data.notes),
            "rejections": data.rejections,
            "active": valid > 0,
            "flagged": invalid > 0 or bool(data.notes) or data.rejections > 0,
        }

    # --- the map ---------------------------------------------------------------------------------------
    def map_view(self, number: int | None, sector: str | None, resolution: int | None) -> dict[str, Any]:
        """H3 cells of closed epoch `number` (latest by default) with devices, activity, reward, flags."""
        number = self._epoch_number(number)
        if sector is not None and sector not in self.node.sectors:
            raise Missing(
                "sector.unknown", f"no sector {sector[:50]!r}; sectors: {sorted(self.node.sectors)}"
            )
        return self._maps.get(
            (number, sector, resolution), lambda: self._make_map(number, sector, resolution)
        )

    def _make_map(self, number: int, sector: str | None, resolution: int | None) -> dict[str, Any]:
        digest = self.digest(number)
        located = {d: info.location for d, info in digest.devices.items() if info.location}
        if resolution is None:
            resolution = choose_resolution(sorted(set(located.values())), len(located))
        cells: dict[str, dict[str, Any]] = {}
        for device_id, location in sorted(located.items()):
            summary = self._device_summary(digest, device_id, sector)
            if not summary["in_sector"]:
                continue
            cell = cells.setdefault(
                parent_cell(location, resolution),
                {
                    "devices": 0,
                    "active": 0,
                    "valid_reports": 0,
                    "invalid_reports": 0,
                    "reward": 0,
                    "flagged": 0,
                },
            )
            cell["devices"] += 1
            cell["active"] += int(summary["active"])
            cell["valid_reports"] += summary["valid_reports"]
            cell["invalid_reports"] += summary["invalid_reports"]
            cell["reward"] += summary["reward"]
            cell["flagged"] += int(summary["flagged"])
        empty = {
            "devices": 0,
            "active": 0,
            "valid_reports": 0,
            "invalid_reports": 0,
            "reward": 0,
            "flagged": 0,
        }
        for populated in list(cells):
            for neighbour in h3.grid_disk(populated, 1):
                cells.setdefault(neighbour, dict(empty))
        out = [
            {"cell": name, "boundary": boundary(name), **data, "under_covered": data["reward"] == 0}
            for name, data in sorted(cells.items())
        ]
        return {
            "epoch": number,
            "sector": sector,
            "sectors": sorted(self.node.sectors),
            "resolution": resolution,
            "token": self.token(),
            "devices": sum(c["devices"] for c in out),
            "max_reward": max((c["reward"] for c in out), default=0),
            "max_valid_reports": max((c["valid_reports"] for c in out), default=0),
            "cells": out,
        }

    def cell_devices(
        self, cell: str, number: int | None, after: str | None, limit: int = DEVICE_PAGE
    ) -> dict[str, Any]:
        """The devices of a map cell (any resolution) in closed epoch `number`, a page at a time by id."""
        if not is_canonical_cell(cell):  # h3 raises on text that does not fit in 64 bits (`-1`, 20 digits)
            raise Missing("cell.invalid", f"{cell[:32]!r} is not an H3 cell (15 lower-case hex digits)")
        number = self._epoch_number(number)
        digest = self.digest(number)
        resolution = h3.get_resolution(cell)
        chosen = sorted(
            device_id
            for device_id, info in digest.devices.items()
            if info.location
            and h3.get_resolution(info.location) >= resolution
            and parent_cell(info.location, resolution) == cell
            and (after is None or device_id > after)
        )
        page = chosen[:limit]
        makers = self.store.makers()
        items = []
        for device_id in page:
            info = digest.devices[device_id]
            items.append(
                {
                    "device_id": device_id,
                    "owner": info.owner,
                    "maker": info.maker,
                    "maker_name": makers.get(info.maker),
                    "location": info.location,
                    **{
                        k: v
                        for k, v in self._device_summary(digest, device_id, None).items()
                        if k != "in_sector"
                    },
                }
            )
        return {
            "cell": cell,
            "epoch": number,
            "items": items,
            "next": page[-1] if len(chosen) > limit else None,
        }

    # --- a device --------------------------------------------------------------------------------------
    def device_overview(self, device_id: str) -> dict[str, Any]:
        """Identity, onboarding record, status in the latest epochs, and its ingest rejections."""
        device = self.store.get_device(device_id)
        if device is None:
            return self._unregistered(device_id)
        record = self.reads.onboarding_record(device_id)
        location = record.get("location") or {}
        latest = self.latest_epoch()
        status: dict[str, Any] = {"state": "no closed epoch yet", "epoch": None}
        if latest is not None:
            digest = self.digest(latest)
            summary = self._device_summary(digest, device_id, None)
            state = "active" if summary["active"] else "silent"
            if summary["flagged"]:
                state += ", flagged"
            status = {
                "state": state,
                "epoch": latest,
                "valid_reports": summary["valid_reports"],
                "invalid_reports": summary["invalid_reports"],
                "notes": summary["notes"],
                "reward": summary["reward"],
                "rejections": summary["rejections"],
            }
        key_type, _, public_key = device_id.partition(":")
        return {
            "device_id": device_id,
            "registered": True,
            "key_type": device.key_type or key_type,
            "public_key": public_key,
            "owner": device.owner,
            "maker": device.maker,
            "maker_name": self.store.makers().get(device.maker),
            "location": device.location,
            "onboarded_at": device.onboarded_at,
            "attributes": {
                "maker": dict(record.get("maker_attributes", {})),
                "owner": dict(location.get("attributes", {})),
            },
            "onboarding": {
                "maker_signature": record.get("maker_signature"),
                "location_cell": location.get("cell"),
                "location_nonce": location.get("nonce"),
                "location_signature": location.get("signature"),
            },
            "status": status,
            "rejections": self.device_rejections(device_id),
            "token": self.token(),
        }

    def _unregistered(self, device_id: str) -> dict[str, Any]:
        """A device id the node does not know: only the reports that named it can be shown."""
        rejections = self.device_rejections(device_id)
        if not rejections["samples"]:
            raise Missing("device.unknown", f"no device {device_id[:100]}")
        return {"device_id": device_id, "registered": False, "rejections": rejections, "token": self.token()}

    def device_rejections(self, device_id: str) -> dict[str, Any]:
        """Refused reports of a device: exact counts of those refused after its signature verified
        (replays, stale or future timestamps, closed epochs, bad payloads), and the kept samples of every
        refused report that named it (bad signatures included: unauthenticated, anyone could send them)."""
        counts: dict[str, int] = {}
        source = f"device:{device_id}"
        for reason, count in self.store.rejection_sources(0, DISTANT_FUTURE).get(source, {}).items():
            counts[reason] = counts.get(reason, 0) + count
        samples = [
            {
                "reason": s.reason,
                "message": s.message,
                "received_at": s.received_at,
                "report_id": s.report_id,
                "authenticated": s.source == source,
            }
            for s in self.store.rejection_samples()
            if s.device_id == device_id
        ]
        samples.sort(key=lambda s: s["received_at"], reverse=True)
        sampled: dict[str, int] = {}
        for sample in samples:
            if not sample["authenticated"]:
                sampled[sample["reason"]] = sampled.get(sample["reason"], 0) + 1
        return {
            "counted": dict(sorted(counts.items())),
            "unauthenticated_samples": sampled,
            "samples": samples,
        }

    def device_rewards(self, device_id: str, before: int | None, limit: int = REWARD_PAGE) -> dict[str, Any]:
        """The device's reward history, newest epoch first, a page of `limit` epochs before `before`:
        per category the formula's inputs — the category's pool, the device's units, every device's units,
        the cap (usage categories) — and the amount they give, which is the amount paid."""
        if self.store.get_device(device_id) is None:
            raise Missing("device.unknown", f"no device {device_id[:100]}")
        numbers = [n for n in reversed(self.store.epoch_numbers()) if before is None or n < before]
        page = numbers[:limit]
        items = []
        for number in page:
            record = self.record(number)
            detail = self.store.device_epoch(number, device_id)
            pools = record.manifest.get("pools", {})
            totals = self.total_units(number)
            categories = []
            for reward in detail["rewards"]:
                category, units, amount = reward["category"], int(reward["units"]), int(reward["amount"])
                pool, total = int(pools.get(category, 0)), totals.get(category, 0)
                cap = reward["breakdown"].get("cap_units")
                formula = pool * units // total if units > 0 and total > 0 else 0
                if cap is not None:
                    formula = min(formula, int(cap))
                categories.append(
                    {
                        "category": category,
                        "sector": self.category_sector.get(category),
                        "pool": pool,
                        "units": units,
                        "total_units": total,
                        "cap_units": None if cap is None else int(cap),
                        "formula": "min(⌊pool × units ÷ total units⌋, cap)"
                        if cap is not None
                        else "⌊pool × units ÷ total units⌋",
                        "formula_amount": formula,
                        "amount": amount,
                        "share": str(Fraction(units, total)) if total else "0",
                        "breakdown": reward["breakdown"],
                    }
                )
            reasons: dict[str, int] = {}
            for report in detail["reports"]:
                reasons[report["reason"]] = reasons.get(report["reason"], 0) + 1
            counted = self.store.rejection_sources(record.start, record.end).get(f"device:{device_id}", {})
            items.append(
                {
                    "epoch": number,
                    "start": record.start,
                    "end": record.end,
                    "amount": sum(c["amount"] for c in categories),
                    "categories": categories,
                    "notes": detail["notes"],
                    "reports_by_reason": dict(sorted(reasons.items())),
                    "rejections": dict(sorted(counted.items())),
                }
            )
        return {
            "device_id": device_id,
            "token": self.token(),
            "items": items,
            "next": page[-1] if len(numbers) > limit else None,
        }

    def device_reports(
        self, device_id: str, number: int | None, after: int | None, limit: int
    ) -> dict[str, Any]:
        """The device's reports of closed epoch `number` (latest by default) with verdict, reason and
        evidence, in device time order, a page at a time (`after`: the index of the last one seen)."""
        if self.store.get_device(device_id) is None:
            raise Missing("device.unknown", f"no device {device_id[:100]}")
        number = self._epoch_number(number)
        self.record(number)  # raises Missing unless closed
        reports = self.store.device_epoch(number, device_id)["reports"]
        start = 0 if after is None else after + 1
        page = reports[start : start + limit]
        items = [{"index": start + i, **report} for i, report in enumerate(page)]
        return {
            "device_id": device_id,
            "epoch": number,
            "total": len(reports),
            "items": items,
            "next": start + len(page) - 1 if start + len(page) < len(reports) else None,
        }

    # --- an epoch --------------------------------------------------------------------------------------
    def settlement(self, number: int) -> dict[str, Any]:
        """The epoch's root as published and as the chain holds it (when the node has a chain)."""
        root = self.record(number).manifest.get("root")
        out: dict[str, Any] = {
            "epoch": number,
            "root": root,
            "chain": None,
            "chain_root": None,
            "token": self.token(),
        }
        if self.chain is None:
            settled = self.store.get_meta("chain_settled_until")
            recorded = settled is not None and number < int(settled)
            out["status"] = "posted (recorded by the node)" if recorded else "no chain connected"
            return out
        chain_root = self.chain.epoch_root(number)
        out["chain"] = self.chain.name
        out["chain_root"] = chain_root
        if chain_root is None:
            out["status"] = "not posted"
        elif root is not None and chain_root.lower() == str(root).lower():
            out["status"] = "posted: the chain holds this root"
        else:
            out["status"] = "posted: the chain holds a different root"
        return out

    def bundle_sha256(self, number: int) -> str:
        """SHA-256 of the epoch's bundle (built once per epoch: exporting reads every report)."""
        from opendepin.rewards.bundle import bundle_sha256

        self.record(number)  # raises Missing unless closed
        return self._bundles.get(number, lambda: bundle_sha256(self.node.export_epoch(number)))

    # --- the epochs -------------------------------------------------------------------------------------
    def epoch_summaries(self, before: int | None, limit: int) -> dict[str, Any]:
        """Closed epochs newest first, a page of `limit` before `before`: each epoch's window, root and
        totals (each summary read once: closed epochs never change)."""
        numbers = [n for n in reversed(self.store.epoch_numbers()) if before is None or n < before]
        page = numbers[:limit]
        items = []
        for number in page:
            if number not in self._summaries:
                record = self.record(number)
                manifest = record.manifest
                self._summaries[number] = {
                    "number": number,
                    "start": record.start,
                    "end": record.end,
                    **{key: manifest.get(key) for key in EPOCH_SUMMARY_KEYS},
                }
            items.append(self._summaries[number])
        return {"token": self.token(), "items": items, "next": page[-1] if len(numbers) > limit else None}

    # --- the network -----------------------------------------------------------------------------------
    def network(self, limit: int = NETWORK_EPOCHS) -> dict[str, Any]:
        """Per epoch (the latest `limit`): mint and burn, supply, revenue and incentives, devices joining,
        active and leaving, reports accepted and refused, ingest lag (device time to receipt)."""
        numbers = self.store.epoch_numbers()[-limit:]
        onboarded = self.reads.onboarded_times()
        key = ("network", tuple(numbers[-1:]), limit, len(onboarded))
        rows = self._maps.get(key, lambda: self._network_rows(numbers, onboarded))
        chain_supply = self.chain.total_supply() if self.chain is not None else None
        return {
            "network": self.node.config.name,
            "token": self.token(),
            "devices": len(onboarded),
            "next_epoch": self.node.next_epoch,
            "now": self.node.clock.now(),
            "last_report_received": self.reads.last_received(),
            "chain": None if self.chain is None else self.chain.name,
            "chain_total_supply": chain_supply,
            "definitions": NETWORK_DEFINITIONS,
            "epochs": rows,
        }

    def _network_rows(self, numbers: Sequence[int], onboarded: Sequence[int]) -> list[dict[str, Any]]:
        token_unit = self.node.config.token.unit
        rows = []
        previous_active: set[str] | None = None
        supply = 0
        if numbers and numbers[0] > 0:  # the supply before the first charted epoch
            first = self.record(numbers[0])
            earlier = sum(int(c) for _o, _a, c in first.owner_rewards) - sum(
                int(a) for _o, a, _c in first.owner_rewards
            )
            supply = earlier
            previous_active = self._active(numbers[0] - 1)
        for number in numbers:
            record = self.record(number)
            manifest = record.manifest
            usage = manifest.get("usage", {})
            price = Fraction(str(usage.get("price_usd", "0") or "0"))
            value_usd = Fraction(str(usage.get("value_usd", "0") or "0"))
            burned = int(value_usd / price * token_unit) if price > 0 else 0
            paid = int(manifest.get("paid", 0))
            supply += paid - burned
            active = self._active(number)
            lags = self._lags(record)
            rows.append(
                {
                    "epoch": number,
                    "start": record.start,
                    "end": record.end,
                    "emitted": int(manifest.get("emitted", 0)),
                    "paid": paid,
                    "burned": burned,
                    "supply": supply,
                    "revenue_usd": f"{float(value_usd):.2f}",
                    "incentives_usd": f"{float(Fraction(paid, token_unit) * price):.2f}",
                    "price_usd": str(usage.get("price_usd", "")),
                    "devices_onboarded": _count_before(onboarded, record.end),
                    "devices_joined": _count_before(onboarded, record.end)
                    - _count_before(onboarded, record.start),
                    "devices_active": len(active),
                    "devices_left": len(previous_active - active) if previous_active is not None else 0,
                    "reports": int(manifest.get("reports", 0)),
                    "rejected": sum(int(v) for v in manifest.get("ingest_rejections", {}).values()),
                    "invalid": sum(int(v) for v in manifest.get("invalid_by_reason", {}).values()),
                    "lag_p50_s": percentile(lags, 0.5),
                    "lag_p95_s": percentile(lags, 0.95),
                    "lag_max_s": max(lags) if lags else None,
                }
            )
            previous_active = active
        return rows


    def _lags(self, record: EpochRecord) -> list[int]:
        """Ingest lags of closed epoch `record` (cached)."""
        return self._facts.get(
            ("lags", record.number), lambda: self.reads.report_lags(record.start, record.end)
        )

    def _active(self, number: int) -> set[str]:
        """The devices active in closed epoch `number` (cached: a closed epoch never changes)."""
        return self._facts.get(("active", number), lambda: self.reads.active_devices(number))

    # --- warming ---------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Build what the first visitor after an epoch closes would otherwise wait for: the latest epoch's
        map, the epochs page and the network page (whose per-epoch figures are then cached one epoch at a
        time, so the next close adds only its own)."""
        if not self._warming.acquire(blocking=False):
            return  # a warm-up is already running; it will read the latest epoch
        try:
            if self.latest_epoch() is None:
                return
            self.epoch_summaries(None, EPOCH_PAGE)
            self.map_view(None, None, None)
            self.network()
        except Exception:  # a cache miss later is slower, never wrong: log and go on
            log.exception("warming the explorer's caches failed")
        finally:
            self._warming.release()

    def warm_in_background(self, *_args: Any) -> None:
        """`warm` in a daemon thread (the epoch scheduler's `on_close` hook, and at start)."""
        threading.Thread(target=self.warm, name="explorer-warm", daemon=True).start()


def _count_before(ordered: Sequence[int], instant: int) -> int:
    from bisect import bisect_left

    return bisect_left(ordered, instant)
