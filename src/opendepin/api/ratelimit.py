"""Per-source rate limit on ingest: a token bucket of rejected reports per transport source.

Accepted reports cost nothing (they are signed by onboarded devices and are the node's purpose); every
report the gate refuses, and every batch refused before the gate, takes one token from its source's bucket.
A bucket holds at most `rejection_burst` tokens and refills at `rejections_per_second` on the node's clock
(wall time when serving; simulated time in `depin up`). A source whose bucket is empty is answered 429 with
`Retry-After` until it has a token again, before its body is even read. The table of buckets is bounded:
full buckets are forgotten first (a full bucket is the same as none), then the least recently used.

Every other write shares the bucket (`api/bounded.py`): a source with an empty bucket is refused with 429 on
any POST (onboarding, orders) before its body is read, and a write refused with a 4xx outside the batch
routes (a forged onboarding, a bad order) takes `REFUSED_WRITE_COST` tokens.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

REFUSED_WRITE_COST = 50
"""Tokens a refused write outside the batch routes costs. Rule: a token is the work of one refused report
(~50 µs in a batch); a refused onboarding is a whole request plus a signature recovery (~0.5 ms alone,
measured), so it costs 50: with the default bucket (5,000, 10 a second) a source gets 100 refused
onboardings at once, then one every 5 seconds."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """Tokens left (negative: a debt from a batch that cost more than was left) as of node time `at`."""

    tokens: int
    at: int


def refill(bucket: Bucket, now: int, rate: int, burst: int) -> Bucket:
    """Rule: `rate` tokens per elapsed second, never above `burst`; a clock that went back adds nothing."""
    elapsed = max(0, now - bucket.at)
    return Bucket(min(burst, bucket.tokens + elapsed * rate), max(now, bucket.at))


def wait_seconds(bucket: Bucket, rate: int) -> int:
    """Seconds until the bucket holds a token again (0: it holds one now)."""
    if bucket.tokens >= 1:
        return 0
    return -(-(1 - bucket.tokens) // rate)


def source_of(host: str | None, transport: str = "http") -> str:
    """The rate-limit source of a client address. Rule: an IPv6 client counts as its /64 network (one
    subscriber usually holds a whole /64), an IPv4 client as its address; no address is `unknown`."""
    if not host:
        return f"{transport}:unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{transport}:{host[:64]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"{transport}:{address.ipv4_mapped}"
        return f"{transport}:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"{transport}:{address}"


class RateLimiter:
    """The shell around `refill`: one bucket per source, thread-safe, at most `max_sources` remembered."""

    def __init__(self, rate: int, burst: int, max_sources: int, clock: Callable[[], int]) -> None:
        self.rate, self.burst, self.max_sources = rate, burst, max_sources
        self.clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, source: str, now: int) -> Bucket:
        bucket = self._buckets.get(source)
        return Bucket(self.burst, now) if bucket is None else refill(bucket, now, self.rate, self.burst)

    def retry_after(self, source: str) -> int:
        """0 if `source` may send now, else the seconds it must wait (its bucket is empty)."""
        with self._lock:
            return wait_seconds(self._current(source, self.clock()), self.rate)

    def charge(self, source: str, cost: int) -> None:
        """Take `cost` tokens from `source` (going into debt if it had fewer)."""
        if cost <= 0:
            return
        with self._lock:
            now = self.clock()
            bucket = self._current(source, now)
            self._buckets[source] = Bucket(bucket.tokens - cost, bucket.at)
            self._buckets.move_to_end(source)
            if len(self._buckets) > self.max_sources:
                self._forget(now)

    def _forget(self, now: int) -> None:
        """Drop buckets that have refilled (they hold no state), then the least recently charged ones, down
        to nine tenths of the bound, so the scan runs once per many new sources, not once per source."""
        full = [
            source
            for source, bucket in self._buckets.items()
            if refill(bucket, now, self.rate, self.burst).tokens >= self.burst
        ]
        for source in full:
            del self._buckets[source]
        while len(self._buckets) > self.max_sources * 9 // 10:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
