"""HIP-106 reciprocity: beacons and witnesses count only for hotspots that do both, recently."""

from __future__ import annotations

from collections.abc import Mapping


def is_recent(last_ts: int | None, at_ts: int, window_s: int) -> bool:
    """`last_ts` (latest qualifying event, maybe later in the same epoch) is within `window_s` of `at_ts`."""
    return last_ts is not None and last_ts >= at_ts - window_s


def get_last(prior: Mapping[str, int], current: Mapping[str, int], device_id: str) -> int | None:
    """Latest qualifying time of a device: this epoch's if any, else the carried-over one."""
    if device_id in current:
        return current[device_id]
    return prior.get(device_id)


def is_beacon_reciprocal(last_valid_witness_ts: int | None, beacon_ts: int, window_s: int) -> bool:
    """HIP-106: a beacon counts only if its beaconer has a valid witness within the window (48 h)."""
    return is_recent(last_valid_witness_ts, beacon_ts, window_s)


def is_witness_reciprocal(last_witnessed_beacon_ts: int | None, witness_ts: int, window_s: int) -> bool:
    """HIP-106: a witness counts only if the witness has a recent valid beacon witnessed at least once."""
    return is_recent(last_witnessed_beacon_ts, witness_ts, window_s)


def is_active(last_witness_ts: int | None, last_beacon_ts: int | None, at_ts: int, window_s: int) -> bool:
    """HIP-17 activity: recently reciprocal (both a valid witness and a witnessed beacon within 60 h)."""
    return is_recent(last_witness_ts, at_ts, window_s) and is_recent(last_beacon_ts, at_ts, window_s)
