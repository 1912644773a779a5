"""Why did this device earn what it earned in one epoch? Its refused reports, every verdict, every note, and
the arithmetic from its pool, its units and the total units to its amount.

What the node knows of a device's reports, from the most to the least certain:
- **verdicts** of its accepted reports (every one, from the epoch's rules);
- **ingest rejections counted against the device**: once a report's signature verified with the device's
  registered key, a refusal (replay, stale or future time, schema…) is counted against `device:<id>` —
  exact counts per reason for the epoch;
- **refused reports that only name the device**: a report whose signature did not verify (or whose
  envelope could not be read, or whose device is not onboarded) may have been sent by anyone, so it is
  counted against the transport source (`http:<address>`), never against the device. The node keeps the
  latest few such reports per reason (`[ingest] rejection_samples`) with the device id they name; those
  samples are shown, marked as unauthenticated, with the source's count for the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opendepin.store.base import Rejection, Store

INGEST_REASONS: dict[str, str] = {
    "report.too_large": "the signed report is longer than [ingest] max_report_bytes",
    "report.malformed": "the bytes are not [envelope bytes, signature] with an envelope of the documented "
    "fields and types (plain CBOR, no tags)",
    "report.not_canonical": "the envelope is not deterministic CBOR (RFC 8949 §4.2.1): encode it canonically "
    "before signing",
    "report.unsupported_version": "the envelope's v is not 1",
    "device.unknown": "the device is not onboarded on this network: POST /v1/devices first",
    "signature.invalid": "the signature does not verify with the device's registered key over the exact "
    "envelope bytes",
    "report.unknown_kind": "no sector of this network declares the report's kind",
    "report.duplicate": "this exact report (same envelope bytes) is already stored",
    "report.replay": "the seq is not above the device's last accepted seq (or was used already, for kinds "
    "whose seq is only unique)",
    "report.stale": "ts is further in the past than the ingest window allows (device clock behind?)",
    "report.future": "ts is further in the future than the ingest window allows (device clock ahead?)",
    "report.epoch_closed": "ts falls in an epoch that is already closed",
    "report.schema_invalid": "the payload does not match the kind's schema",
}
"""Every reason code the ingest gate gives a refused report, with what it means (docs/devices.md)."""


def _claimed_samples(store: Store, device_id: str, start: int, end: int) -> tuple[list[Rejection], bool]:
    """The kept samples of refused reports naming `device_id`: those received in [start, end), else (when
    none is) the latest kept ones whenever received; and whether they lie in the window."""
    naming = [r for r in store.rejection_samples() if r.device_id == device_id]
    inside = [r for r in naming if start <= r.received_at < end]
    return (inside, True) if inside or not naming else (naming, False)


def _sample_json(sample: Rejection) -> dict[str, Any]:
    return {
        "reason": sample.reason,
        "received_at": sample.received_at,
        "source": sample.source,
        "authenticated": sample.source == f"device:{sample.device_id}",
        "message": sample.message,
        "report_id": sample.report_id,
    }


def compute_ingest(store: Store, device_id: str, start: int, end: int) -> dict[str, Any]:
    """The device's refused reports in [start, end): exact counts against the device, and the kept samples
    of reports naming it (with each sample's source and that source's count of the reason)."""
    sources = store.rejection_sources(start, end)
    counted = dict(sorted(sources.get(f"device:{device_id}", {}).items()))
    samples, in_window = _claimed_samples(store, device_id, start, end)
    unauthenticated = [s for s in samples if s.source != f"device:{device_id}"]
    sampled: dict[str, int] = {}
    for sample in unauthenticated:
        sampled[sample.reason] = sampled.get(sample.reason, 0) + 1
    source_totals = {
        source: {reason: sources.get(source, {}).get(reason, 0) for reason in sorted(sampled)}
        for source in sorted({s.source for s in unauthenticated})
    }
    return {
        "counted": counted,
        "sampled_unauthenticated": dict(sorted(sampled.items())),
        "samples_in_epoch": in_window,
        "source_totals": source_totals,
        "samples": [_sample_json(s) for s in samples],
    }


def compute_arithmetic(
    rewards: list[dict[str, Any]], pools: Mapping[str, Any], total_units: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Per category: pool, the device's units, the total units, ⌊pool × units / total⌋ and the amount paid
    (lower only when a usage cap applied), so anyone can redo the division. A category in which other
    devices earned units and this one none is shown too, with 0 units: why it earned nothing there."""
    rows = []
    earned = {reward["category"] for reward in rewards}
    unpaid = [
        {"category": category, "units": 0, "amount": 0}
        for category, total in sorted(total_units.items())
        if category not in earned and int(total) > 0
    ]
    for reward in [*rewards, *unpaid]:
        category, units, amount = reward["category"], int(reward["units"]), int(reward["amount"])
        pool, total = int(pools.get(category, 0)), int(total_units.get(category, 0))
        share = pool * units // total if total > 0 and units > 0 else 0
        rows.append(
            {
                "category": category,
                "pool": pool,
                "units": units,
                "total_units": total,
                "pro_rata": share,
                "amount": amount,
                "capped": amount < share,
            }
        )
    return rows


def compute_causes(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every reason the device lost reports or reward, most frequent first: refused at ingest (counted
    against it, or sampled reports naming it), invalid verdicts, and device notes."""
    causes: list[dict[str, Any]] = []
    ingest = detail["ingest"]
    for reason, count in ingest["counted"].items():
        causes.append(
            {"reason": reason, "count": count, "where": "ingest", "meaning": INGEST_REASONS.get(reason)}
        )
    for reason, count in ingest["sampled_unauthenticated"].items():
        causes.append(
            {
                "reason": reason,
                "count": count,
                "where": "ingest (unauthenticated: kept samples naming the device)",
                "meaning": INGEST_REASONS.get(reason),
            }
        )
    for reason, count in detail["reports_by_reason"].items():
        if reason != "ok":
            causes.append({"reason": reason, "count": count, "where": "verdict", "meaning": None})
    for note in detail["notes"]:
        causes.append({"reason": note["reason"], "count": 1, "where": "note", "meaning": None})
    return sorted(causes, key=lambda c: (-c["count"], c["reason"]))


def explain_device(store: Store, device_id: str, epoch: int) -> dict[str, Any]:
    """Everything behind `device_id`'s reward in `epoch` (JSON-ready; amounts in base units). A device that
    was never onboarded is explained by the refused reports naming it; LookupError when the epoch is not
    closed, or the device is unknown and no refused report names it."""
    record = store.get_epoch(epoch)
    if record is None:
        raise LookupError(f"epoch {epoch} is not closed")
    device = store.get_device(device_id)
    ingest = compute_ingest(store, device_id, record.start, record.end)
    if device is None and not ingest["samples"]:
        raise LookupError(f"no device {device_id[:100]} is onboarded, and no refused report names it")
    detail = (
        store.device_epoch(epoch, device_id)
        if device is not None
        else {"reports": [], "rewards": [], "notes": []}
    )
    by_reason: dict[str, int] = {}
    for report in detail["reports"]:
        by_reason[report["reason"]] = by_reason.get(report["reason"], 0) + 1
    pools = record.manifest.get("pools", {})
    total_units = store.category_units(epoch) if device is not None else {}
    result: dict[str, Any] = {
        "device_id": device_id,
        "onboarded": device is not None,
        "owner": device.owner if device else None,
        "location": device.location if device else None,
        "key_type": device.key_type if device else device_id.partition(":")[0],
        "epoch": epoch,
        "window": [record.start, record.end],
        "amount": sum(int(r["amount"]) for r in detail["rewards"]),
        "valid_reports": by_reason.get("ok", 0),
        "reports_by_reason": dict(sorted(by_reason.items())),
        "ingest": ingest,
        "notes": detail["notes"],
        "rewards": detail["rewards"],
        "arithmetic": compute_arithmetic(detail["rewards"], pools, total_units),
        "total_units": total_units,
        "reports": detail["reports"],
        "pools": pools,
    }
    result["causes"] = compute_causes(result)
    return result
