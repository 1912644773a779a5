"""What simulated devices do each hour: honest work, or a misbehaviour the node must catch.

The generic misbehaviours below apply to the reports of any sector, and the fleet applies them itself
after the sector's simulation produced the hour's reports (`sign_hour`); each maps to the reason code the
node gives. A sector adds its own (`SectorSimulation.behaviours`: GPS spoofing, forged audits, ...) and
may restate a generic one to name the reason its rules give (`lazy`).

Rules: a device's reports of an hour are signed in time order with `seq` = hour × SEQ_PER_SECOND + k, so
seqs rise across hours whatever the device's clock says (and stay unique for `unique`-seq kinds). Then:
`bad-signature` flips a bit of every signature; `clock-skew` moves every report of an even hour
SKEW_SECONDS early or late; `malformed` adds, in even hours, a report whose envelope breaks the format
(a key the envelope has not, holding random bytes, as buggy firmware would send); `replayer` re-sends its
first report of the previous hour as it was (a duplicate) and a new report reusing this hour's first `seq` (a
replay); `lazy` devices are up one hour in LAZY_EVERY_HOURS and are not handed to their sector otherwise;
`unregistered` devices are never onboarded.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import cbor2

from opendepin.identity.keys import DeviceKey
from opendepin.reports.envelope import sign_report
from opendepin.sectors.base import SimReport

HONEST = "honest"
GENERIC_BEHAVIOURS: dict[str, str] = {
    "bad-signature": "signature.invalid",
    "replayer": "report.duplicate / report.replay",
    "clock-skew": "report.future / report.stale",
    "lazy": "the sector's rule for missing hours (a device note)",
    "malformed": "report.malformed",
    "unregistered": "device.unknown",
}
MISBEHAVIOURS: tuple[str, ...] = tuple(GENERIC_BEHAVIOURS)
"""The generic misbehaviours (every fleet has them, whatever its sectors)."""
LAZY_EVERY_HOURS = 3
SKEW_SECONDS = 14_400
"""A skewed clock is four hours early or late, every other hour (outside the default ingest window)."""
SEQ_PER_SECOND = 16
"""Room for 57,600 reports per device and hour below the next hour's first `seq`."""


def behaviour_cycle(sector_behaviours: Mapping[str, str]) -> tuple[str, ...]:
    """The misbehaviours a sector's devices take in turn: the generic ones and the sector's, by name."""
    return tuple(sorted({*GENERIC_BEHAVIOURS, *sector_behaviours}))


def is_up(behaviour: str, hour_ts: int) -> bool:
    """A `lazy` device is up one hour in LAZY_EVERY_HOURS; every other device always."""
    return behaviour != "lazy" or (hour_ts // 3_600) % LAZY_EVERY_HOURS == 0


def flip_signature_bit(wire: bytes, rng: random.Random) -> bytes:
    """The same signed report with one bit of its signature flipped (the gate must refuse it)."""
    envelope, signature = cbor2.loads(wire)
    flipped = bytearray(signature)
    flipped[rng.randrange(len(flipped))] ^= 0x01
    return bytes(cbor2.dumps([envelope, bytes(flipped)]))


def malformed_report(key: DeviceKey, report: SimReport, seq: int, junk: bytes) -> bytes:
    """A signed report naming the device whose envelope holds a key the format has not: the gate refuses
    it as `report.malformed` and keeps the device it names with the rejection sample."""
    envelope = {"v": 1, "kind": report.kind, "device": key.device_id, "ts": report.ts, "seq": seq}
    data = cbor2.dumps({**envelope, "payload": dict(report.payload), "junk": junk}, canonical=True)
    return bytes(cbor2.dumps([data, key.sign(data)]))


def sign_hour(
    key: DeviceKey,
    behaviour: str,
    reports: Sequence[SimReport],
    hour_ts: int,
    rng: random.Random,
    previous: bytes | None = None,
) -> tuple[list[bytes], bytes | None]:
    """One device's wire reports of the hour starting at `hour_ts`, its generic misbehaviour applied.

    `previous` is what a replayer re-sends (its first report of an earlier hour). Returns the wires and
    the report a replayer re-sends next hour."""
    ordered = sorted(reports, key=lambda r: r.ts)  # stable: the sector's order within a second
    odd_hour = (hour_ts // 3_600) % 2 == 1
    skew = rng.choice((-1, 1)) * SKEW_SECONDS if behaviour == "clock-skew" and not odd_hour else 0
    first_seq = hour_ts * SEQ_PER_SECOND
    wires = [
        sign_report(key, r.kind, r.ts + skew, first_seq + k, dict(r.payload)).to_wire()
        for k, r in enumerate(ordered)
    ]
    if not wires:
        return [], previous
    if behaviour == "bad-signature":
        wires = [flip_signature_bit(wire, rng) for wire in wires]
    elif behaviour == "malformed" and not odd_hour:
        wires.append(malformed_report(key, ordered[0], first_seq, rng.randbytes(rng.randrange(1, 200))))
    elif behaviour == "replayer":
        first = ordered[0]
        if previous is not None:
            wires.append(previous)  # the exact earlier report again: a duplicate
            reused = sign_report(key, first.kind, first.ts + 1, first_seq, dict(first.payload))
            wires.append(reused.to_wire())  # a new report with a seq already used: a replay
        return wires, wires[0]
    return wires, previous
