"""Pure helpers for challenges: which sector issues which kind, periods, and re-derivation from seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opendepin.sectors.base import Challenge, ChallengeKind, DeviceInfo, SectorPlugin


def challenge_kinds(sectors: Mapping[str, SectorPlugin]) -> dict[str, tuple[str, ChallengeKind]]:
    """Challenge kind name → (sector, kind) for every enabled sector."""
    return {
        kind.name: (name, kind)
        for name, plugin in sorted(sectors.items())
        for kind in plugin.challenge_kinds()
    }


def compute_period_start(now: int, period_seconds: int) -> int:
    """Start of the period containing `now`."""
    return now - now % period_seconds


def challenge_row(challenge: Challenge) -> list[Any]:
    """A challenge as a plain row: kind, id, issued_at, seed entropy, seed period, device, payload."""
    return [
        challenge.kind,
        challenge.challenge_id,
        challenge.issued_at,
        challenge.seed.entropy,
        challenge.seed.period_start,
        challenge.device,
        dict(challenge.payload),
    ]


def rederive_problems(
    kinds: Mapping[str, tuple[str, ChallengeKind]],
    challenges: Sequence[Challenge],
    devices: Mapping[str, DeviceInfo],
) -> list[str]:
    """Problems with recorded challenges: each must be one of those its kind derives from its own seed
    (a node cannot pick challenges that favour some devices)."""
    problems: list[str] = []
    derived: dict[tuple[str, str, int], list[Challenge]] = {}
    for challenge in challenges:
        owner = kinds.get(challenge.kind)
        if owner is None:
            problems.append(f"challenge {challenge.challenge_id[:16]}: no sector issues {challenge.kind!r}")
            continue
        key = (challenge.kind, challenge.seed.entropy, challenge.seed.period_start)
        if key not in derived:
            derived[key] = list(owner[1].derive(challenge.seed, devices))
        if challenge_row(challenge) not in [challenge_row(c) for c in derived[key]]:
            problems.append(
                f"challenge {challenge.kind} {challenge.challenge_id[:16]}: not what its seed derives"
            )
    return problems
