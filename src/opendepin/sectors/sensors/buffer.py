"""Which samples an epoch scores: late uploads, hours still open, context carried between epochs.

Stations buffer samples while offline and upload them late; such reports count in the epoch in which they
arrive (the sector's ingest policy), so an epoch sees samples of several device-time hours, some already
scored. The rules (ours, so that every hour is scored once, from all its samples, with context):

- an hour is scored in the first epoch that ends at least `hour_grace_s` after the hour ends; samples of an
  hour still open are held in the station's state (their report's verdict says so) and scored with the
  rest of the hour next epoch;
- a sample of an hour already scored is not scored again (`sensors.hour_already_scored`); one older than
  the upload delay allows is refused (`sensors.too_late`); a second sample with the same device time is a
  duplicate (`sensors.duplicate_sample`);
- the last `context_s` of scored samples stay in the state as context, so runs and jumps across an epoch's
  edge are checked.

A sample is a row `[ts, received_at, v1, v2, …]` of integers (thousandths) or None for a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import EpochWindow, Verdict
from opendepin.sectors.sensors.reports import MILLI

HOUR = 3_600
Row = list[int | None]


@dataclass(slots=True)
class Buffered:
    """One station's samples for this epoch, in device-time order."""

    rows: list[Row]
    """Context rows first mixed with the rows to score, sorted by ts."""
    scored: list[bool]
    report_ids: list[str | None]
    hours: list[int]
    """Hour starts scored now."""
    held: list[Row]
    held_reports: list[tuple[str, int]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    scored_before: set[int] = field(default_factory=set)

    def arrays(self, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ts, received, values[n, width], present[n, width], scored[n]) as numpy arrays."""
        n = len(self.rows)
        ts = np.array([r[0] for r in self.rows], dtype=np.int64).reshape(n)
        received = np.array([r[1] for r in self.rows], dtype=np.int64).reshape(n)
        present = np.array([[v is not None for v in r[2:]] for r in self.rows], dtype=bool).reshape(n, width)
        values = np.array([[0 if v is None else v for v in r[2:]] for r in self.rows], dtype=np.int64)
        return ts, received, values.reshape(n, width), present, np.array(self.scored, dtype=bool).reshape(n)


def row_of(report: ReportRecord, fields: Sequence[str]) -> Row:
    """A report's sample as a row of integers (`quantise` of each field, inlined: this runs per sample)."""
    payload = report.payload
    return [
        report.ts,
        report.received_at,
        *[None if (v := payload.get(f)) is None else round(float(v) * MILLI) for f in fields],
    ]


def horizon(window: EpochWindow, max_upload_delay_s: int) -> int:
    """The earliest hour start an epoch still scores."""
    return (window.start - max_upload_delay_s) // HOUR * HOUR - HOUR


def gather(
    reports: Sequence[ReportRecord],
    fields: Sequence[str],
    prior: Mapping[str, Any],
    window: EpochWindow,
    max_upload_delay_s: int,
    hour_grace_s: int,
) -> Buffered:
    """Split prior held rows and this epoch's reports into rows to score now and rows to hold."""
    scored_before = {int(h) for h in prior.get("scored", ())}
    earliest = horizon(window, max_upload_delay_s)
    verdicts: list[Verdict] = []
    candidates: dict[int, tuple[Row, str | None]] = {}
    for row in prior.get("held", ()):
        candidates.setdefault(int(row[0]), (list(row), None))
    for report in sorted(reports, key=lambda r: (r.ts, r.report_id)):
        hour = report.ts // HOUR * HOUR
        if hour in scored_before:
            verdicts.append(Verdict(report.report_id, "sensors.hour_already_scored", {"hour": hour}))
        elif hour < earliest:
            verdicts.append(
                Verdict(report.report_id, "sensors.too_late", {"hour": hour, "earliest": earliest})
            )
        elif report.ts in candidates:
            verdicts.append(Verdict(report.report_id, "sensors.duplicate_sample", {"ts": report.ts}))
        else:
            candidates[report.ts] = (row_of(report, fields), report.report_id)
    tail = [list(r) for r in prior.get("tail", ())]
    rows: list[Row] = []
    scored: list[bool] = []
    ids: list[str | None] = []
    held: list[Row] = []
    held_reports: list[tuple[str, int]] = []
    hours: set[int] = set()
    for ts in sorted(candidates):
        row, report_id = candidates[ts]
        hour = ts // HOUR * HOUR
        if hour + HOUR + hour_grace_s > window.end:
            held.append(row)
            if report_id is not None:
                held_reports.append((report_id, hour))
            continue
        rows.append(row)
        scored.append(True)
        ids.append(report_id)
        hours.add(hour)
    tail = [r for r in tail if int(r[0]) not in candidates]
    merged = sorted(
        zip(tail + rows, [False] * len(tail) + scored, [None] * len(tail) + ids, strict=True),
        key=lambda item: int(item[0][0]),
    )  # type: ignore[arg-type]
    return Buffered(
        rows=[m[0] for m in merged],
        scored=[m[1] for m in merged],
        report_ids=[m[2] for m in merged],
        hours=sorted(hours),
        held=held,
        held_reports=held_reports,
        verdicts=verdicts,
        scored_before=scored_before,
    )


def next_buffer_state(
    buffered: Buffered, window: EpochWindow, max_upload_delay_s: int, context_s: int
) -> dict[str, Any]:
    """The carried part of a stream's state: the tail of scored rows, the held rows, the scored hours."""
    earliest = horizon(window, max_upload_delay_s) - HOUR
    scored_hours = sorted(h for h in buffered.scored_before | set(buffered.hours) if h >= earliest)
    rows = buffered.rows
    tail: list[Row] = []
    if rows:
        last = int(rows[-1][0])  # type: ignore[arg-type]
        tail = [r for r in rows if int(r[0]) > last - context_s]  # type: ignore[arg-type]
    return {"tail": tail, "held": buffered.held, "scored": scored_hours}
