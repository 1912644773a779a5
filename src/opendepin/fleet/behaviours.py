"""What simulated devices do each hour: honest work, or one of the misbehaviours the gate and the
wireless rules must catch (each maps to the reason code it should produce)."""

from __future__ import annotations

BEHAVIOURS: dict[str, str] = {
    "honest": "ok",
    "bad-signature": "signature.invalid",
    "replayer": "report.duplicate / report.replay",
    "clock-skew": "report.future / report.stale",
    "gps-far": "heartbeat.location_too_far",
    "lazy": "wireless.insufficient_heartbeats",
    "malformed": "report.malformed",
    "unregistered": "device.unknown",
}
MISBEHAVIOURS: tuple[str, ...] = tuple(name for name in BEHAVIOURS if name != "honest")
