"""Per-device report budget: the last check a report passes before it is stored (docs/architecture.md,
"Ingest").

A registered device's reports that pass every other check of the gate are still bounded in number: each
device has a token bucket of `[ingest] device_report_burst` reports that refills at
`device_reports_per_hour` (0: no bound). An accepted report takes one token; past the budget a report is
refused with `device.rate_limited` (a counter and a sample, not a stored report), and the device may send
it again once the bucket has refilled. Without it one device's key could write as fast as the node
accepts (20,000 heartbeats in 4.5 s, about 300 GB a day of reports no sector pays for), since every
accepted report is kept.

Only accepted reports take tokens (a forged, replayed or late report is refused before and costs its
sender's rejection budget instead), so no one but the device's key holder can spend its budget. Buckets
are kept in memory by the process that gates the device's reports: a node in direct mode, or the one gate
worker whose partitions hold the device (devices are partitioned across workers); a restart starts every
bucket full. The arithmetic is in integers: tokens are counted in 1/3600 of a report, so a refill of
`device_reports_per_hour` an hour is exactly that many units a second.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping

from opendepin.config import IngestConfig
from opendepin.ingest.gate import GateResult

UNITS_PER_REPORT = 3_600
"""Token units one report takes (an hour's seconds: a refill of R reports an hour is R units a second)."""
RATE_LIMITED = "device.rate_limited"

Bucket = tuple[int, int]
"""(token units left, the receive time in seconds they were counted at)."""


def take_report(bucket: Bucket | None, now: int, per_hour: int, burst: int) -> Bucket | None:
    """Rule: the bucket after one report is taken from it at `now`, or None when it holds less than a report.
    A device never seen (None) starts full; a bucket refills `per_hour` units a second up to `burst` reports;
    time going backwards (a clock set back) refills nothing."""
    full = burst * UNITS_PER_REPORT
    tokens, at = bucket if bucket is not None else (full, now)
    tokens = min(full, tokens + max(0, now - at) * per_hour)
    if tokens < UNITS_PER_REPORT:
        return None
    return tokens - UNITS_PER_REPORT, max(now, at)


def seconds_until_next(bucket: Bucket, now: int, per_hour: int) -> int:
    """Whole seconds until the bucket holds a report again (at least 1)."""
    tokens, at = bucket
    missing = UNITS_PER_REPORT - min(UNITS_PER_REPORT, tokens + max(0, now - at) * per_hour)
    return max(1, -(-missing // per_hour))


class DeviceBudgets:
    """The buckets of the devices one process gates. A batch charges an overlay (`batch()`), made the
    process's own only once the batch is stored (`commit`): a batch rolled back takes nothing."""

    def __init__(self, params: IngestConfig) -> None:
        self.per_hour = params.device_reports_per_hour
        self.burst = params.device_report_burst
        self._buckets: dict[str, Bucket] = {}
        self._pruned_at: int | None = None

    def batch(self) -> ChainMap[str, Bucket]:
        """A batch's view of the buckets: reads fall through to the stored ones, writes stay in the batch."""
        return ChainMap({}, self._buckets)

    def charge(self, result: GateResult, buckets: MutableMapping[str, Bucket], now: int) -> GateResult:
        """`result` if it is not an acceptance, or its device's budget holds a report (taken in `buckets`);
        else the refusal `device.rate_limited` of the same report, attributed to its device."""
        if not result.accepted or self.per_hour == 0 or result.device_id is None:
            return result
        device = result.device_id
        taken = take_report(buckets.get(device), now, self.per_hour, self.burst)
        if taken is None:
            wait = seconds_until_next(buckets[device], now, self.per_hour)
            return GateResult(
                RATE_LIMITED,
                f"device {device} sent more than its budget of {self.burst:,} reports at once and "
                f"{self.per_hour:,} an hour ([ingest] device_report_burst, device_reports_per_hour); send "
                f"this report again in {wait} s or later",
                result.report_id,
                device,
                authenticated=True,
            )
        buckets[device] = taken
        return result

    def commit(self, batch: ChainMap[str, Bucket], now: int) -> None:
        """Keep what a stored batch took; about once an hour, forget the buckets that are full again (they
        hold nothing a new bucket would not), so memory follows the devices sending hard, not all devices."""
        self._buckets.update(batch.maps[0])
        if self._pruned_at is None:
            self._pruned_at = now
        elif now - self._pruned_at >= 3_600 or now < self._pruned_at:
            full = self.burst * UNITS_PER_REPORT
            self._buckets = {
                device: (tokens, at)
                for device, (tokens, at) in self._buckets.items()
                if tokens + max(0, now - at) * self.per_hour < full
            }
            self._pruned_at = now
