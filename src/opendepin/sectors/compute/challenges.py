"""The compute sector's challenges: audit seeds for spot checks, and the hourly capacity challenge.

Audit (`compute.audit`, every `verify.audit_period_s`): one challenge for everyone whose id is drawn from the
chain entropy. A result received at t is spot-checked with the audit of the first period that starts after
t, so its units are drawn from entropy nobody knew when the result was committed (a provider cannot grind
its report id to dodge the checks).

Capacity (`compute.capacity`, every `capacity.period_s`), like io.net's hourly proof of work: a provider
claiming B hashes per second hashes SHA-256(challenge ‖ device ‖ nonce) for `work_s` seconds and answers,
within `work_s + grace_s` of the challenge, every nonce whose hash (first 8 bytes, big-endian) falls under
    target = floor(2^64 · E / (B · work_s)),      E = expected_solutions,
so the claimed speed finds E solutions on average. It passes with at least `min_solutions` (4 standard
deviations under E by default). A pass shows count · B / E hashes per second: an unbiased estimate of the
speed it really had whatever it claimed (a higher claim lowers the target as much as it raises the
weight), so over-claiming never raises the pay and only adds the risk of falling under `min_solutions`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence

from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo

AUDIT = "compute.audit"
CAPACITY = "compute.capacity"
CANARY = "compute.canary"


def challenge_id(kind: str, seed: ChallengeSeed) -> str:
    return hashlib.sha256(f"{kind}|{seed.entropy}|{seed.period_start}".encode()).hexdigest()


def derive_audit(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """One audit seed per period, for everyone."""
    return [Challenge(AUDIT, challenge_id(AUDIT, seed), seed.period_start, seed, None, {})]


def derive_capacity(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """One capacity challenge per period, for everyone (each device hashes its own id in)."""
    return [Challenge(CAPACITY, challenge_id(CAPACITY, seed), seed.period_start, seed, None, {})]


def derive_canaries(
    seed: ChallengeSeed, devices: Mapping[str, DeviceInfo], rate_bps: int, job: Mapping[str, object]
) -> list[Challenge]:
    """Canaries of one period: each device whose draw from the seed falls under `rate_bps` / 10,000 gets
    the job `job` (kind, units, size) with a seed of its own; the engine knows the answer. (The plug-in
    binds `rate_bps` and `job` from its parameters.)"""
    out = []
    for device_id in sorted(devices):
        draw = hashlib.sha256(f"{CANARY}|{seed.entropy}|{seed.period_start}|{device_id}".encode()).digest()
        if int.from_bytes(draw[:8], "big") % 10_000 >= rate_bps:
            continue
        attrs = devices[device_id].attributes
        if not all(type(attrs.get(k)) is int for k in ("cpu_cores", "memory_mb", "benchmark_hps")):
            continue  # not a compute provider
        canary_id = hashlib.sha256(draw + b"id").hexdigest()
        payload = {**job, "seed": hashlib.sha256(draw + b"job").hexdigest()}
        out.append(Challenge(CANARY, canary_id, seed.period_start, seed, device_id, payload))
    return out


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


def reexecuted(audit_id: str, report_id: str, reexec_bps: int) -> bool:
    """Rule: a result is re-executed whole (every unit recomputed) when a draw from its audit seed falls
    under `reexec_bps` / 10,000 (probability q)."""
    draw = hashlib.sha256(f"{audit_id}|{report_id}|reexec".encode()).digest()
    return int.from_bytes(draw[:8], "big") % 10_000 < reexec_bps


def capacity_target(benchmark_hps: int, work_s: int, expected: int) -> int:
    """The hash bound under which benchmark_hps · work_s hashes find `expected` solutions on average."""
    return min(2**64, (2**64 * expected) // max(1, benchmark_hps * work_s))


def capacity_hash(challenge: str, device_id: str, nonce: int) -> int:
    digest = hashlib.sha256(f"{challenge}|{device_id}|{nonce}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def capacity_deadline(issued_at: int, work_s: int, grace_s: int) -> int:
    """The last second an answer counts."""
    return issued_at + work_s + grace_s


def shown_speed(solutions: int, benchmark_hps: int, expected: int) -> int:
    """Rule: the hashes per second a passed answer shows: solutions · B / E (toward zero)."""
    return solutions * benchmark_hps // expected


def check_capacity(
    challenge: str, device_id: str, nonces: Sequence[int], target: int, solutions: int
) -> tuple[bool, dict[str, int]]:
    """Rule: distinct nonces, each hashing under `target`, at least `solutions` of them. Returns (passed,
    evidence with `valid`, the count of good solutions)."""
    distinct = sorted(set(nonces))
    good = _solutions_under(challenge, device_id, tuple(distinct), target)
    return good >= solutions and good == len(distinct) == len(nonces), {
        "valid": good,
        "given": len(nonces),
        "distinct": len(distinct),
        "needed": solutions,
    }


@functools.lru_cache(maxsize=2_048)
def _solutions_under(challenge: str, device_id: str, distinct: tuple[int, ...], target: int) -> int:
    """How many of the distinct nonces hash under `target` (remembered: the engine judges the same answers
    each time the book is evaluated, and the count depends on nothing else)."""
    return sum(1 for n in distinct if capacity_hash(challenge, device_id, n) < target)


def solve_capacity(
    challenge: str, device_id: str, target: int, hashes: int, start: int = 0, limit: int = 400
) -> list[int]:
    """The nonces in [start, start + hashes) under the target (at most `limit`): what a provider finds by
    hashing that many (the agent splits the range over its cores and stops at the end of `work_s`)."""
    found: list[int] = []
    prefix = f"{challenge}|{device_id}|".encode()
    sha = hashlib.sha256
    for nonce in range(start, start + hashes):
        if int.from_bytes(sha(prefix + str(nonce).encode()).digest()[:8], "big") < target:
            found.append(nonce)
            if len(found) == limit:
                break
    return found
