"""Challenges the network issues for its sectors: derived from chain entropy, stored, epoch inputs.

A challenge kind (a sector's `challenge_kinds()`) takes a new seed every period: the settlement chain's
latest block hash when the period's first challenge is asked for (or when the scheduler issues scheduled
kinds). Its challenges are a pure function of the seed and the device registry, so anyone holding the seed
can re-derive them; which were issued when is part of each epoch's inputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from opendepin.clock import Clock
from opendepin.sectors.base import Challenge, ChallengeSeed, SectorPlugin
from opendepin.sectors.challenges import challenge_kinds, compute_period_start
from opendepin.services.devices import DeviceRegistry
from opendepin.store.base import Store

EntropySource = Callable[[], str]
"""Returns the settlement chain's latest block hash (0x-hex)."""


class UnknownChallenge(LookupError):
    """No enabled sector issues challenges of this kind."""


class ChallengeService:
    """Issues, stores and serves challenges; one seed per kind and period."""

    def __init__(
        self,
        sectors: Mapping[str, SectorPlugin],
        store: Store,
        clock: Clock,
        registry: DeviceRegistry,
        entropy_source: EntropySource,
    ) -> None:
        self.kinds = challenge_kinds(sectors)
        self.store = store
        self.clock = clock
        self.registry = registry
        self.entropy_source = entropy_source
        self._lock = threading.Lock()

    def current(self, kind: str) -> list[Challenge]:
        """The challenges of `kind` for the current period, issued now if they were not yet."""
        if kind not in self.kinds:
            raise UnknownChallenge(f"no sector of this network issues {kind!r} challenges")
        _, spec = self.kinds[kind]
        now = self.clock.now()
        start = compute_period_start(now, spec.period_seconds)
        with self._lock:
            issued = self.store.challenges_for_period(kind, start)
            if issued:
                return issued
            seed = ChallengeSeed(self.entropy_source(), start)
            challenges = list(spec.derive(seed, self.registry.snapshot()))
            self.store.record_challenges(challenges)
            return challenges

    def issue_due(self) -> list[Challenge]:
        """Issue the current period's challenges of every scheduled kind (called by the scheduler)."""
        issued: list[Challenge] = []
        for kind, (_, spec) in sorted(self.kinds.items()):
            if spec.scheduled:
                issued.extend(self.current(kind))
        return issued

    def lookback(self, sector: str) -> int:
        """How long before an epoch a sector's challenges stay relevant to it."""
        return max((k.lookback_seconds for s, k in self.kinds.values() if s == sector), default=0)

    def for_epoch(self, start: int, end: int) -> dict[str, list[Challenge]]:
        """Per sector, its challenges issued in [start − its lookback, end)."""
        earliest = start - max((k.lookback_seconds for _, k in self.kinds.values()), default=0)
        by_sector: dict[str, list[Challenge]] = {}
        for challenge in self.store.challenges_between(earliest, end):
            owner = self.kinds.get(challenge.kind)
            if owner is None:
                continue
            sector, spec = owner
            if challenge.issued_at >= start - spec.lookback_seconds:
                by_sector.setdefault(sector, []).append(challenge)
        return by_sector

