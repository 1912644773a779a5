"""Challenge entropy (docs/wireless-poc.md, "Reports and entropy"): hash(timestamp ‖ latest block hash), with
a lifespan."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from opendepin.sectors.base import Challenge, ChallengeKind, ChallengeSeed, DeviceInfo
from opendepin.sectors.wireless.poc.params import PocParams

BEACON_DOMAIN = b"opendepin/wireless/beacon/v1"
ENTROPY_CHALLENGE = "wireless.entropy"
"""The challenge kind of served entropy: one per `entropy_period_s`, its id the entropy value."""


@dataclass(frozen=True, slots=True)
class Entropy:
    """Entropy served to devices: hex value, the time it was derived at, the time it stops being valid."""

    value: str
    timestamp: int
    expires_at: int


def _hash_bytes(block_hash: str) -> bytes:
    text = block_hash.removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"block hash must be hex (optionally 0x-prefixed), got {block_hash!r}") from None


def compute_entropy_timestamp(now: int, period_s: int) -> int:
    """Start of the entropy period containing `now` (a new entropy every `period_s`, Helium: 60 s)."""
    return now - now % period_s


def compute_entropy(block_hash: str, timestamp: int) -> str:
    """Entropy = sha256(timestamp as 8 big-endian bytes ‖ block hash bytes), hex (docs/wireless-poc.md)."""
    return hashlib.sha256(timestamp.to_bytes(8, "big") + _hash_bytes(block_hash)).hexdigest()


def get_entropy(block_hash: str, now: int, params: PocParams) -> Entropy:
    """The entropy to serve at `now` given the chain's latest block hash."""
    timestamp = compute_entropy_timestamp(now, params.entropy_period_s)
    return Entropy(compute_entropy(block_hash, timestamp), timestamp, timestamp + params.entropy_lifespan_s)


def is_entropy_fresh(entropy_ts: int, at_ts: int, lifespan_s: int) -> bool:
    """A report at `at_ts` may cite entropy derived at `entropy_ts` for `lifespan_s` (Helium rule: 180 s)."""
    return 0 <= at_ts - entropy_ts <= lifespan_s


def compute_beacon_data(entropy: str, local_entropy: str, region: str, frequency_hz: int) -> str:
    """The beacon payload regenerated from (remote entropy, local entropy, region params), hex."""
    material = b"|".join(
        [
            BEACON_DOMAIN,
            bytes.fromhex(entropy),
            bytes.fromhex(local_entropy),
            region.encode(),
            str(frequency_hz).encode(),
        ]
    )
    return hashlib.sha256(material).hexdigest()


def derive_entropy_challenges(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """The period's entropy, a challenge to every hotspot: id = compute_entropy(block hash, period start)."""
    value = compute_entropy(seed.entropy, seed.period_start)
    return [Challenge(ENTROPY_CHALLENGE, value, seed.period_start, seed)]


def entropy_challenge_kind(params: PocParams) -> ChallengeKind:
    """Entropy is issued on demand (the first `GET /v1/sectors/wireless/entropy` of a period) and stays
    citable for `entropy_lifespan_s`, which is how far before an epoch its entropy may still matter."""
    return ChallengeKind(
        ENTROPY_CHALLENGE,
        params.entropy_period_s,
        derive_entropy_challenges,
        lookback_seconds=params.entropy_lifespan_s,
    )
