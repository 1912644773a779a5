"""The report log in blocks: accepted reports also kept as Arrow record batches, so that an epoch is read
in bulk (docs/architecture.md, "The report log in blocks").

A block is an Arrow IPC stream (bodies compressed with zstd) of one record batch of `BLOCK_SCHEMA` (the
columns of `opendepin.reports.columns.REPORT_SCHEMA`: id, kind, device, device time, seq, receive time,
the signed envelope bytes), stored in the `report_blocks` table with the bounds of its device and receive
times. The store keeps blocks under these rules (store/sql.py):

- a block is written in the transaction that inserts its rows, and holds exactly the rows that transaction
  inserted: a batch in which the database skipped a row as already stored gets no block;
- small blocks are merged: when a write finds `COMPACT_COUNT` blocks of fewer than `SMALL_ROWS` rows, it
  merges them into one in the same transaction (a report is rewritten a few times at most, and reading an
  epoch costs a few thousand blocks, however small the ingest batches were);
- an epoch is read from its blocks only if they hold exactly as many reports of its window as the report
  table does (counted on its index); otherwise from the rows (a store upgraded with reports already in it,
  rows written by another program). Blocks hold a subset of the rows (written with them, deleted only
  below a closed epoch's end) and no report twice (each inserted once), so equal counts mean equal sets;
- once an epoch is saved, blocks with nothing at or after its end are deleted with it.

Everything here is a pure function over bytes and frames; the SQL lives in store/sql.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from opendepin.reports.columns import REPORT_SCHEMA
from opendepin.store.errors import StoreCorruption

BLOCK_SCHEMA = pa.schema(
    [
        ("report_id", pa.string_view()),
        ("kind", pa.string_view()),
        ("device_id", pa.string_view()),
        ("ts", pa.int64()),
        ("seq", pa.int64()),
        ("received_at", pa.int64()),
        ("envelope", pa.binary_view()),
    ]
)
"""The columns of a block: `REPORT_SCHEMA` in Arrow types, in the same order. Text and bytes in the view
layout (a 16-byte view per value into the column's data), polars' own: a decoded block is a frame pointing
into the buffers Arrow decompressed it into, and cutting it to a window or putting it in id order moves
views, never the text or the envelopes (an epoch of a million devices is read with one copy of its reports
in memory, not three)."""
_CONTIGUOUS = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
"""Each view type's offset twin: values are laid out in one buffer that way, then viewed (a view array built
value by value holds its data in 32 KiB pieces: 300 buffers a block, each one a step for a reader that
walks the buffers of a column)."""
BLOCK_ROWS = 65_536
"""At most this many reports are written as one block (a larger batch makes several)."""
SMALL_ROWS = 4096
"""A block with fewer rows than this is small: it waits to be merged."""
COMPACT_COUNT = 64
"""How many small blocks a merge takes at once (a merge writes at most COMPACT_COUNT × SMALL_ROWS rows)."""
ID_PREFIX_HEX = 15
"""Hex digits of a report id read as an integer to sort by (60 bits: an Int64 without sign trouble)."""
PREFIX_CHUNK = 1 << 20
"""Ids whose heads are read at once when sorting (the heads' text is a transient copy)."""


class Block(NamedTuple):
    """One block as stored: its bounds, its row count and its bytes."""

    min_ts: int
    max_ts: int
    min_received: int
    max_received: int
    row_count: int
    data: bytes


def encode_block(rows: Sequence[Sequence[Any]]) -> Block:
    """The block of report rows (report id, kind, device id, ts, seq, received at, envelope bytes)."""
    if not rows:
        raise ValueError("a block holds at least one report")
    columns = list(zip(*rows, strict=True))
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(column, type=_CONTIGUOUS.get(f.type, f.type)).cast(f.type)
            for column, f in zip(columns, BLOCK_SCHEMA, strict=True)
        ],
        schema=BLOCK_SCHEMA,
    )
    ts, received = columns[3], columns[5]
    data = _stream_bytes(batch, BLOCK_SCHEMA)
    return Block(min(ts), max(ts), min(received), max(received), len(rows), data)


def encode_frame_block(frame: pl.DataFrame) -> Block:
    """The block of a report frame (`REPORT_SCHEMA`), e.g. small blocks merged."""
    if frame.is_empty():
        raise ValueError("a block holds at least one report")
    ts, received = frame["ts"], frame["received_at"]
    return Block(
        int(ts.min()),  # type: ignore[arg-type]
        int(ts.max()),  # type: ignore[arg-type]
        int(received.min()),  # type: ignore[arg-type]
        int(received.max()),  # type: ignore[arg-type]
        frame.height,
        compressed_frame_bytes(frame.select(list(REPORT_SCHEMA)), BLOCK_SCHEMA),
    )


def decode_blocks(datas: Iterable[bytes | memoryview]) -> pl.DataFrame:
    """The reports of stored blocks as one frame of `REPORT_SCHEMA` (in block order)."""
    return frame_of_streams(datas, BLOCK_SCHEMA, REPORT_SCHEMA)


def compressed_frame_bytes(frame: pl.DataFrame, schema: pa.Schema) -> bytes:
    """A frame as an Arrow IPC stream of `schema` whose record batch bodies are compressed with zstd (text
    and bytes laid out in one buffer per column first)."""
    contiguous = pa.schema([(f.name, _CONTIGUOUS.get(f.type, f.type)) for f in schema])
    return _stream_bytes(frame.to_arrow().cast(contiguous).combine_chunks().cast(schema), schema)


def _stream_bytes(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> bytes:
    """`data` as an Arrow IPC stream of `schema`, its bodies compressed with zstd: report ids, device ids and
    envelopes (hex text, mostly) take about half their size, heartbeat evidence a quarter."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write(data)
    return bytes(sink.getvalue().to_pybytes())


def frame_of_streams(
    datas: Iterable[bytes | memoryview], schema: pa.Schema, frame_schema: dict[str, Any]
) -> pl.DataFrame:
    """Stored IPC streams of `schema` (`compressed_frame_bytes`) as one frame of `frame_schema`, in order;
    bytes that do not read as such a stream are corruption of the store."""

    def read(buffer: pa.Buffer) -> pa.Table:
        # decompressed into the system allocator: a frame's buffers are large and go back to the system when
        # the frame is dropped (Arrow's default pool kept about 13 % more resident for the same frame)
        source = pa.BufferReader(buffer)
        reader = pa.ipc.open_stream(source, memory_pool=pa.system_memory_pool())
        if not reader.schema.equals(schema):
            raise ValueError(f"a block of schema {reader.schema} where {schema} was expected")
        table = reader.read_all()
        # a stored stream ends where its bytes do: a damaged message length can read as the end-of-stream
        # marker, and the stream would then decode, valid and short, without the rows that follow it
        if source.tell() != buffer.size:
            raise ValueError(f"the stream ends at byte {source.tell()} of {buffer.size}")
        return table

    return _decoded_frame(datas, read, frame_schema)


def _decoded_frame(
    datas: Iterable[bytes | memoryview], read: Callable[[pa.Buffer], pa.Table], frame_schema: dict[str, Any]
) -> pl.DataFrame:
    """The tables `read` finds in each stored value, checked (offsets within their buffers, text that is
    UTF-8) and concatenated into one frame of `frame_schema`; a value that does not read is corruption."""
    tables = []
    for data in datas:
        try:
            table = read(pa.py_buffer(data))
            table.validate(full=True)
        except (pa.ArrowException, OSError, ValueError, EOFError) as error:
            # any Arrow error: e.g. a damaged compressed body claims an absurd size, whose allocation fails
            raise StoreCorruption(f"a stored block does not decode: {str(error)[:200]}") from None
        tables.append(table)
    if not tables:
        return pl.DataFrame(schema=frame_schema)
    frame = pl.from_arrow(pa.concat_tables(tables), rechunk=False)  # the decoded columns, not copied
    assert isinstance(frame, pl.DataFrame)
    return frame.cast(frame_schema)  # type: ignore[arg-type]


def in_window(frame: pl.DataFrame, start: int, end: int, by_receive_time: bool) -> pl.DataFrame:
    """The rows with device time (or receive time) in [start, end)."""
    column = pl.col("received_at" if by_receive_time else "ts")
    return frame.filter((column >= start) & (column < end))


def sort_by_report_id(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame.sort("report_id")`, faster: rows ordered by the first 60 bits of their id (an integer sort),
    then each run of equal prefixes put in full-id order. For ids that start with 15 lowercase hex digits
    (report ids are SHA-256 hex) the prefixes' order is the ids' order; report ids are hashes, so runs are
    rare. Any other id in the frame (a store written by something else): the plain sort. `frame` is taken
    apart in the process (`take_rows`): use the result."""
    if frame.height < 2:
        return frame
    ids = frame["report_id"]
    if ids.null_count():
        return frame.sort("report_id")
    prefixes = []
    for start in range(0, ids.len(), PREFIX_CHUNK):  # the heads' text a chunk at a time, not all at once
        head = ids.slice(start, PREFIX_CHUNK).str.slice(0, ID_PREFIX_HEX)
        if not head.str.contains(f"^[0-9a-f]{{{ID_PREFIX_HEX}}}$").all():
            return frame.sort("report_id")
        prefixes.append(head.str.to_integer(base=16))
    prefix = pl.concat(prefixes)
    del prefixes
    order = prefix.arg_sort().to_numpy().copy()
    keys = prefix.to_numpy()[order]
    tied = np.flatnonzero(keys[1:] == keys[:-1])
    if tied.size:
        starts = np.concatenate(([tied[0]], tied[1:][np.diff(tied) > 1]))
        ends = np.concatenate((tied[:-1][np.diff(tied) > 1], [tied[-1]])) + 2
        id_list = ids.to_list()
        for low, high in zip(starts.tolist(), ends.tolist(), strict=True):
            run = order[low:high]
            order[low:high] = run[
                np.argsort(np.array([id_list[i] for i in run], dtype=object), kind="stable")
            ]
    return take_rows(frame, order)


def take_rows(frame: pl.DataFrame, order: np.ndarray) -> pl.DataFrame:  # type: ignore[type-arg]
    """`frame[order]`, a column at a time, each of `frame`'s columns dropped from it once taken: a large
    frame is reordered with one column's copy in memory at once, not a second frame (`frame` is left
    empty)."""
    columns = []
    indices = pl.Series(order, dtype=pl.Int64)
    for name in list(frame.columns):
        # a column in one piece first: gathering across many chunks is several times slower
        columns.append(frame.drop_in_place(name).rechunk().gather(indices))
    return pl.DataFrame(columns)
