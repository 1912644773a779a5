"""What simulated devices do each hour: honest work, or one of the misbehaviours the gate and the
wireless rules must catch (each maps to the reason code it should produce). On a network with proof of
coverage, `gps-spoof` hotspots report the GPS position of their assertion while their radio stands 6–15 km
away (and clamp witness RSSI under Helium's free-space bound); only the trust detectors catch them."""

from __future__ import annotations

BEHAVIOURS: dict[str, str] = {
    "honest": "ok",
    "bad-signature": "signature.invalid",
    "replayer": "report.duplicate / report.replay",
    "clock-skew": "report.future / report.stale",
    "gps-far": "heartbeat.location_too_far",
    "gps-spoof": "trust.* (proof of coverage)",
    "lazy": "wireless.insufficient_heartbeats",
    "malformed": "report.malformed",
    "unregistered": "device.unknown",
}
MISBEHAVIOURS: tuple[str, ...] = tuple(name for name in BEHAVIOURS if name != "honest")
