"""An epoch's verdicts in blocks: the published verdict rows (report id, device, reason, evidence as its
canonical JSON text) stored as Arrow IPC streams of up to `VERDICT_BLOCK_ROWS` rows compressed with zstd
(kept for good: about a quarter of the text's size for heartbeat verdicts), in (device, report) order,
each with the first and last device it holds (docs/architecture.md, "The report log in blocks").

Written with the epoch's other rows in the transaction that saves it; read whole (an epoch's verdicts, by
report id) or for one device (the blocks whose device range holds it). Epochs saved before blocks existed
keep their rows in the `verdicts` table, and every reader reads both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa

from opendepin.sectors.columns import VERDICT_SCHEMA, VerdictRows, evidence_json
from opendepin.store.report_blocks import compressed_frame_bytes, frame_of_streams

VERDICT_BLOCK_SCHEMA = pa.schema(
    [
        ("report_id", pa.string()),
        ("device_id", pa.string()),
        ("reason", pa.string()),
        ("evidence", pa.string()),
    ]
)
VERDICT_BLOCK_ROWS = 65_536
"""Rows per verdict block: one device's verdicts are read from a block or two, an epoch's from a few."""


class VerdictBlock(NamedTuple):
    first_device: str
    last_device: str
    row_count: int
    data: bytes


def verdict_frame(
    verdicts: Sequence[tuple[str, str, str, Mapping[str, Any]]],
    encode: Callable[[Mapping[str, Any]], str] = evidence_json,
) -> pl.DataFrame:
    """Published verdict rows given one by one as a frame of `VERDICT_SCHEMA`, the evidence as canonical
    JSON text (`encode`); rows that come as columns (`VerdictRows`) are stored as they are (save_epoch)."""
    return pl.DataFrame(
        [(rid, device, reason, encode(evidence)) for rid, device, reason, evidence in verdicts],
        schema=VERDICT_SCHEMA,
        orient="row",
    )


def encode_verdict_blocks(verdicts: pl.DataFrame | VerdictRows) -> Iterator[VerdictBlock]:
    """The blocks of verdict rows (or of a frame of `VERDICT_SCHEMA`): in (device, report) order,
    `VERDICT_BLOCK_ROWS` a block, made one at a time (the rows are put in that order through an index, not
    copied whole, and evidence kept as numbers is written a block at a time)."""
    rows = verdicts if isinstance(verdicts, VerdictRows) else VerdictRows(verdicts.select(*VERDICT_SCHEMA))
    frame = rows.frame
    order = frame.select(pl.arg_sort_by("device_id", "report_id")).to_series()
    for start in range(0, frame.height, VERDICT_BLOCK_ROWS):
        part = rows.text_frame(frame[order.slice(start, VERDICT_BLOCK_ROWS)])
        devices = part["device_id"]
        yield VerdictBlock(
            str(devices[0]),
            str(devices[-1]),
            part.height,
            compressed_frame_bytes(part, VERDICT_BLOCK_SCHEMA),
        )


def decode_verdict_blocks(datas: Iterable[bytes | memoryview]) -> pl.DataFrame:
    """Stored verdict blocks as one frame of `VERDICT_SCHEMA` (in block order)."""
    return frame_of_streams(datas, VERDICT_BLOCK_SCHEMA, VERDICT_SCHEMA)
