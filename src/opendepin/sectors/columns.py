"""Verdicts as columns: what a sector's vectorised judge returns (`SectorPlugin.evaluate_columns`).

`VerdictColumns` is a `Sequence[Verdict]` over a polars frame (`VERDICT_SCHEMA`): report id, the report's
device, reason code, and the evidence as canonical JSON text (`evidence_json`: sorted keys, no spaces,
the text the store keeps). Read as verdicts, each evidence is that text parsed, so it equals the evidence
the report-by-report rule builds (floats are written with Python's shortest round-trip form). Its `rows`
are the epoch's published verdict rows (report id, device, reason, evidence), which the store writes
without re-encoding anything.

A judge may keep the evidence as the numbers it is made of and give an `EvidenceWriter` instead of the
text: the frame then has report id, device and reason, and whatever columns the writer reads, and the text
is written a part at a time, when the rows are read or stored (`text_frame`). A million-device epoch's
evidence text (some 60 bytes a report) is then never in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import polars as pl

from opendepin.sectors.base import Verdict

VERDICT_SCHEMA: dict[str, Any] = {
    "report_id": pl.String,
    "device_id": pl.String,
    "reason": pl.String,
    "evidence": pl.String,
}


def evidence_json(evidence: Mapping[str, Any]) -> str:
    """The canonical JSON text of an evidence map (the store's form: sorted keys, no spaces)."""
    return _EVIDENCE_ENCODER.encode(evidence)


_EVIDENCE_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


EvidenceWriter = Callable[[pl.DataFrame], pl.Series]
"""Writes the canonical evidence text of some rows of a verdict frame from their other columns."""
TEXT_CHUNK = 100_000
"""Rows whose evidence is written at once when a frame is read row by row."""


def _check_frame(frame: pl.DataFrame, evidence: EvidenceWriter | None) -> None:
    if evidence is None:
        if dict(frame.schema) != VERDICT_SCHEMA:
            raise ValueError(f"a verdict frame has the columns {VERDICT_SCHEMA}, got {dict(frame.schema)}")
        return
    head = dict(list(frame.schema.items())[:3])
    if head != {k: VERDICT_SCHEMA[k] for k in ("report_id", "device_id", "reason")} or "evidence" in frame:
        raise ValueError(
            "a verdict frame whose evidence is written on reading starts with report_id, device_id and "
            f"reason and has no evidence column, got {dict(frame.schema)}"
        )


def text_frame(
    frame: pl.DataFrame, evidence: EvidenceWriter | None, part: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Rows of a verdict frame (all, or `part`: some of its rows, with all its columns) in `VERDICT_SCHEMA`,
    their evidence written by `evidence` when the frame holds it as numbers."""
    rows = frame if part is None else part
    if evidence is None:
        return rows.select(list(VERDICT_SCHEMA))
    return rows.select("report_id", "device_id", "reason", evidence(rows).alias("evidence"))


class VerdictColumns(Sequence[Verdict]):
    """One verdict per row of `frame` (`VERDICT_SCHEMA`, or the evidence written by `evidence`), in order."""

    def __init__(self, frame: pl.DataFrame, evidence: EvidenceWriter | None = None) -> None:
        _check_frame(frame, evidence)
        self.frame = frame
        self.evidence = evidence

    def __len__(self) -> int:
        return self.frame.height

    @overload
    def __getitem__(self, index: int) -> Verdict: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Verdict]: ...
    def __getitem__(self, index: int | slice) -> Verdict | Sequence[Verdict]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        report_id, _device, reason, evidence = text_frame(
            self.frame, self.evidence, self.frame.slice(index, 1)
        ).row(0)
        return Verdict(report_id, reason, json.loads(evidence))

    def __iter__(self) -> Iterator[Verdict]:
        for report_id, _device, reason, evidence in self.rows.text_rows():
            yield Verdict(report_id, reason, json.loads(evidence))

    def counts_by_reason(self) -> dict[str, int]:
        """Reason code → number of verdicts, counted over the reason column a slice at a time (grouping the
        frame at once made polars put every column of a frame of several chunks in one, copying the ids:
        +250 MB and 1 s for 2.6M verdicts)."""
        counts: dict[str, int] = {}
        for part in self.frame.select("reason").iter_slices(TEXT_CHUNK):
            grouped = part.group_by("reason").len()
            for reason, count in zip(grouped["reason"].to_list(), grouped["len"].to_list(), strict=True):
                counts[reason] = counts.get(reason, 0) + count
        return counts

    @property
    def rows(self) -> VerdictRows:
        return VerdictRows(self.frame, self.evidence)


class VerdictRows(Sequence[tuple[str, str, str, Mapping[str, Any]]]):
    """The published verdict rows (report id, device, reason, evidence) of a verdict frame, in order."""

    def __init__(self, frame: pl.DataFrame, evidence: EvidenceWriter | None = None) -> None:
        self.frame = frame
        self.evidence = evidence

    def __len__(self) -> int:
        return self.frame.height

    @overload
    def __getitem__(self, index: int) -> tuple[str, str, str, Mapping[str, Any]]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str, str, Mapping[str, Any]]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[str, str, str, Mapping[str, Any]] | Sequence[tuple[str, str, str, Mapping[str, Any]]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        report_id, device_id, reason, evidence = self.text_frame(self.frame.slice(index, 1)).row(0)
        return (report_id, device_id, reason, json.loads(evidence))

    def __iter__(self) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
        for report_id, device_id, reason, evidence in self.text_rows():
            yield (report_id, device_id, reason, json.loads(evidence))

    def text_frame(self, part: pl.DataFrame | None = None) -> pl.DataFrame:
        """These rows (or `part`, some of them) in `VERDICT_SCHEMA`: the evidence as text."""
        return text_frame(self.frame, self.evidence, part)

    def text_rows(self) -> Iterator[tuple[str, str, str, str]]:
        """The rows with the evidence as its canonical JSON text (what the store writes)."""
        for chunk in self.text_chunks():
            yield from chunk

    def text_chunks(self, size: int = TEXT_CHUNK) -> Iterator[list[tuple[str, str, str, str]]]:
        """`text_rows` a chunk at a time (no Python object for every row of a large epoch at once)."""
        for start in range(0, self.frame.height, size):
            part = self.text_frame(self.frame.slice(start, size))
            yield list(zip(*(part[name].to_list() for name in VERDICT_SCHEMA), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(
                tuple(a) == tuple(b) for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
