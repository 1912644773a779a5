"""The compute sector's challenges: audit seeds for spot checks, and the hourly capacity challenge.

Audit (`compute.audit`, every `verify.audit_period_s`): one challenge for everyone whose id is drawn from the
chain entropy. A result received at t is spot-checked with the audit of the first period that starts after
t, so its units are drawn from entropy nobody knew when the result was committed (a provider cannot grind
its report id to dodge the checks).

Capacity (`compute.capacity`, every `capacity.period_s`), like io.net's hourly proof of work: a provider
claiming B hashes per second must find `min_solutions` distinct nonces whose
SHA-256(challenge ‖ device ‖ nonce) (first 8 bytes, big-endian) falls under
    target = floor(2^64 · min_solutions / (B · work_s)),
which takes B · work_s hashes on average (a Gamma(min_solutions) count: with 256 solutions its standard
deviation is 1/16 of the mean), and answer within `work_s · slack + grace` seconds of the challenge. A
device with 1/slack of the claimed speed or less misses the deadline almost surely; an honest one misses it
only beyond four standard deviations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo

AUDIT = "compute.audit"
CAPACITY = "compute.capacity"
BPS = 10_000


def challenge_id(kind: str, seed: ChallengeSeed) -> str:
    return hashlib.sha256(f"{kind}|{seed.entropy}|{seed.period_start}".encode()).hexdigest()


def derive_audit(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """One audit seed per period, for everyone."""
    return [Challenge(AUDIT, challenge_id(AUDIT, seed), seed.period_start, seed, None, {})]


def derive_capacity(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """One capacity challenge per period, for everyone (each device hashes its own id in)."""
    return [Challenge(CAPACITY, challenge_id(CAPACITY, seed), seed.period_start, seed, None, {})]


def audit_for(received_at: int, audits: Sequence[Challenge], period_s: int) -> Challenge | None:
    """The audit that spot-checks a result received at `received_at`: the one issued at the first period
    start strictly after it (None if the epoch does not have it yet)."""
    due = (received_at // period_s + 1) * period_s
    for audit in audits:
        if audit.issued_at == due:
            return audit
    return None


def spot_units(audit_id: str, report_id: str, units: int, count: int) -> list[int]:
    """`min(count, units)` distinct unit indices drawn from the audit and the result (rejection sampling
    over SHA-256 draws; ascending)."""
    chosen: list[int] = []
    counter = 0
    while len(chosen) < min(count, units):
        draw = hashlib.sha256(f"{audit_id}|{report_id}|{counter}".encode()).digest()
        index = int.from_bytes(draw[:8], "big") % units
        if index not in chosen:
            chosen.append(index)
        counter += 1
    return sorted(chosen)


def capacity_target(benchmark_hps: int, work_s: int, solutions: int) -> int:
    """The hash bound that makes `solutions` solutions take benchmark_hps · work_s hashes on average."""
    return min(2**64, (2**64 * solutions) // max(1, benchmark_hps * work_s))


def capacity_hash(challenge: str, device_id: str, nonce: int) -> int:
    digest = hashlib.sha256(f"{challenge}|{device_id}|{nonce}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def capacity_deadline(issued_at: int, work_s: int, slack_bps: int, grace_s: int) -> int:
    """The last second an answer counts: issued_at + work_s · slack (toward zero) + grace."""
    return issued_at + work_s * slack_bps // BPS + grace_s


def check_capacity(
    challenge: str, device_id: str, nonces: Sequence[int], target: int, solutions: int
) -> tuple[bool, dict[str, int]]:
    """Rule: at least `solutions` distinct nonces, each hashing under `target`. Returns (passed, evidence)."""
    distinct = sorted(set(nonces))
    good = sum(1 for n in distinct if capacity_hash(challenge, device_id, n) < target)
    return good >= solutions and good == len(distinct), {
        "valid": good,
        "given": len(nonces),
        "distinct": len(distinct),
        "needed": solutions,
    }


def solve_capacity(challenge: str, device_id: str, target: int, solutions: int, start: int = 0) -> list[int]:
    """What a provider runs: the first `solutions` nonces from `start` under the target."""
    found: list[int] = []
    nonce = start
    prefix = f"{challenge}|{device_id}|".encode()
    sha = hashlib.sha256
    while len(found) < solutions:
        if int.from_bytes(sha(prefix + str(nonce).encode()).digest()[:8], "big") < target:
            found.append(nonce)
        nonce += 1
    return found
