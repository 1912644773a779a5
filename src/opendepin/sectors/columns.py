"""Verdicts as columns: what a sector's vectorised judge returns (`SectorPlugin.evaluate_columns`).

`VerdictColumns` is a `Sequence[Verdict]` over a polars frame (`VERDICT_SCHEMA`): report id, the report's
device, reason code, and the evidence as canonical JSON text (`evidence_json`: sorted keys, no spaces,
the text the store keeps). Read as verdicts, each evidence is that text parsed, so it equals the evidence
the report-by-report rule builds (floats are written with Python's shortest round-trip form). Its `rows`
are the epoch's published verdict rows (report id, device, reason, evidence), which the store writes
without re-encoding anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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
    return json.dumps(evidence, sort_keys=True, separators=(",", ":"))


class VerdictColumns(Sequence[Verdict]):
    """One verdict per row of `frame` (`VERDICT_SCHEMA`), in order."""

    def __init__(self, frame: pl.DataFrame) -> None:
        if dict(frame.schema) != VERDICT_SCHEMA:
            raise ValueError(f"a verdict frame has the columns {VERDICT_SCHEMA}, got {dict(frame.schema)}")
        self.frame = frame

    def __len__(self) -> int:
        return self.frame.height

    @overload
    def __getitem__(self, index: int) -> Verdict: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Verdict]: ...
    def __getitem__(self, index: int | slice) -> Verdict | Sequence[Verdict]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        report_id, _device, reason, evidence = self.frame.row(index)
        return Verdict(report_id, reason, json.loads(evidence))

    def __iter__(self) -> Iterator[Verdict]:
        f = self.frame
        for report_id, reason, evidence in zip(
            f["report_id"].to_list(), f["reason"].to_list(), f["evidence"].to_list(), strict=True
        ):
            yield Verdict(report_id, reason, json.loads(evidence))

    def counts_by_reason(self) -> dict[str, int]:
        """Reason code → number of verdicts."""
        counts = self.frame.group_by("reason").len()
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))

    @property
    def rows(self) -> VerdictRows:
        return VerdictRows(self.frame)


class VerdictRows(Sequence[tuple[str, str, str, Mapping[str, Any]]]):
    """The published verdict rows (report id, device, reason, evidence) of a verdict frame, in order."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

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
        report_id, device_id, reason, evidence = self.frame.row(index)
        return (report_id, device_id, reason, json.loads(evidence))

    def __iter__(self) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
        for report_id, device_id, reason, evidence in self.text_rows():
            yield (report_id, device_id, reason, json.loads(evidence))

    def text_rows(self) -> Iterator[tuple[str, str, str, str]]:
        """The rows with the evidence as its canonical JSON text (what the store writes)."""
        for chunk in self.text_chunks():
            yield from chunk

    def text_chunks(self, size: int = 100_000) -> Iterator[list[tuple[str, str, str, str]]]:
        """`text_rows` a chunk at a time (no Python object for every row of a large epoch at once)."""
        for start in range(0, self.frame.height, size):
            part = self.frame.slice(start, size)
            yield list(zip(*(part[name].to_list() for name in VERDICT_SCHEMA), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(
                tuple(a) == tuple(b) for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
