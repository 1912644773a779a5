"""Why did this device earn what it earned? Every report's verdict and every multiplier, for one epoch."""

from __future__ import annotations

from typing import Any

from opendepin.store.base import Store


def explain_device(store: Store, device_id: str, epoch: int) -> dict[str, Any]:
    """Reports with verdict + reason + evidence, device-level notes, and the reward breakdown."""
    device = store.get_device(device_id)
    if device is None:
        raise LookupError(f"no device {device_id[:100]}")
    record = store.get_epoch(epoch)
    if record is None:
        raise LookupError(f"epoch {epoch} is not closed")
    detail = store.device_epoch(epoch, device_id)
    total = sum(r["amount"] for r in detail["rewards"])
    accepted = sum(1 for r in detail["reports"] if r["reason"] == "ok")
    by_reason: dict[str, int] = {}
    for report in detail["reports"]:
        by_reason[report["reason"]] = by_reason.get(report["reason"], 0) + 1
    return {
        "device_id": device_id,
        "owner": device.owner,
        "location": device.location,
        "epoch": epoch,
        "window": [record.start, record.end],
        "amount": total,
        "valid_reports": accepted,
        "reports_by_reason": dict(sorted(by_reason.items())),
        "notes": detail["notes"],
        "rewards": detail["rewards"],
        "reports": detail["reports"],
        "pools": record.manifest.get("pools", {}),
    }
