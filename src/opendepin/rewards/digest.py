"""Digests that pin an epoch's inputs and parameters (docs/epoch-bundle.md, "Digests").

`inputs_digest` covers every input that can change an amount: each accepted report's id (the SHA-256 of its
signed envelope) with the time the node received it, the device snapshot with attributes and signed
onboarding records, prior cumulative rewards and sector state, the context served by the node, and the
ingest rejections it reports. `params_digest` covers the money-deciding part of network.toml.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from polars.interchange.protocol import CompatLevel

from opendepin.config import NetworkConfig
from opendepin.reports.columns import ReportColumns
from opendepin.rewards.inputs import EpochInputs
from opendepin.sectors.base import DeviceInfo, SectorPlugin
from opendepin.sectors.challenges import challenge_row


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the byte form every digest is taken over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (tuple, set, frozenset)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not part of a canonical digest")


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def reward_params(config: NetworkConfig, sectors: Mapping[str, SectorPlugin]) -> dict[str, Any]:
    """The parts of network.toml that decide money (not where data is stored or which chain settles), with
    the sector tables as their plug-ins validated them (defaults filled in, so an explicit default and an
    omitted one agree)."""
    dumped = config.model_dump(mode="json")
    keys = ("name", "token", "emission", "epochs", "rewards", "makers", "shared")
    params = {key: dumped[key] for key in keys}
    params["sectors"] = {name: p.params.model_dump(mode="json") for name, p in sorted(sectors.items())}
    return params


def compute_params_digest(config: NetworkConfig, sectors: Mapping[str, SectorPlugin]) -> str:
    return sha256_hex(canonical_json(reward_params(config, sectors)))


def device_from_row(row: Sequence[Any]) -> DeviceInfo:
    """A device from its snapshot row (see `device_snapshot`; rows of 6 fields predate attributes)."""
    return DeviceInfo(
        device_id=row[0],
        key_type=row[1],
        owner=row[2],
        maker=row[3],
        location=row[4],
        onboarded_at=int(row[5]),
        attributes=dict(row[6]) if len(row) > 6 else {},
    )


def inputs_body(inputs: EpochInputs, with_reports: bool = True) -> dict[str, Any]:
    """The canonical form of an epoch's inputs that `inputs_digest` hashes (`with_reports=False`: an empty
    report list, for a caller that writes the reports itself)."""
    return {
        "window": [inputs.window.number, inputs.window.start, inputs.window.end],
        "reports": sorted([r.report_id, r.received_at] for r in inputs.reports) if with_reports else [],
        "devices": inputs.device_rows,
        "prior_cumulative": sorted([owner, str(amount)] for owner, amount in inputs.prior_cumulative.items()),
        "prior_state": inputs.prior_state,
        "context": inputs.context,
        "rejections": dict(sorted(inputs.rejections.items())),
        "usage": sorted(
            [u.receipt_id, u.received_at, *([u.device_signature.hex()] if u.device_signature else [])]
            for u in inputs.usage
        ),
        "price_wad": None if inputs.price_wad is None else str(inputs.price_wad),
        "challenges": {
            sector: [challenge_row(c) for c in challenges]
            for sector, challenges in sorted(inputs.challenges.items())
        },
        "prior_device_state": inputs.prior_device_state,
    }


def compute_inputs_digest(inputs: EpochInputs) -> str:
    """SHA-256 over the canonical JSON of `inputs_body`."""
    if isinstance(inputs.reports, ReportColumns):
        return compute_columns_digest(inputs, inputs.reports)
    return sha256_hex(canonical_json(inputs_body(inputs)))


_JSON_PLAIN = r'^[^"\\\x00-\x1f]*$'
"""Text that canonical JSON writes as it is, between quotes (no quote, backslash or control character)."""


def _plain_json_text(ids: pl.Series) -> bool:
    """Every id is `_JSON_PLAIN`. Checked first on the bytes of the column's buffers, a few vectorised
    comparisons instead of a regex per id: if no byte of any buffer is a quote, a backslash or a control
    character, no id holds one (ids longer than 12 bytes lie in those buffers, in polars' view layout). Ids
    of 12 bytes or fewer (kept inside their views), another layout or any such byte in a buffer (it may
    belong to a row cut away): the regex decides."""
    arrow = ids.to_arrow(compat_level=CompatLevel.newest())
    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    plain = ids.null_count() == 0
    for chunk in chunks:
        if not plain or chunk.type != pa.string_view():
            plain = False
            break
        views = np.frombuffer(chunk.buffers()[1], dtype=np.int32).reshape(-1, 4)
        if (views[chunk.offset : chunk.offset + len(chunk), 0] <= 12).any():
            plain = False
            break
        for buffer in chunk.buffers()[2:]:
            data = np.frombuffer(buffer, dtype=np.uint8)
            if ((data < 0x20) | (data == 0x22) | (data == 0x5C)).any():
                plain = False
                break
    return plain or bool(ids.str.contains(_JSON_PLAIN).all())


def _strictly_ascending(ids: pl.Series) -> bool:
    """Every id greater than the one before (then no two rows tie and the frame is in digest order)."""
    return ids.null_count() == 0 and bool((ids.slice(1) > ids.slice(0, max(len(ids) - 1, 0))).all())


def compute_columns_digest(inputs: EpochInputs, reports: ReportColumns, chunk: int = 1 << 18) -> str:
    """`compute_inputs_digest` with the reports as columns: the same bytes hashed, the report list written
    from the columns (sorted by id then receive time, each `["id",received_at]`) between the canonical JSON
    of the other inputs, streamed into the hash a chunk at a time."""
    frame = reports.frame.select("report_id", "received_at")
    if not _strictly_ascending(frame["report_id"]):  # a store's frame is by id already: no second sort
        frame = frame.sort("report_id", "received_at")
    if not _plain_json_text(frame["report_id"]):
        body = {**inputs_body(inputs, with_reports=False), "reports": frame.rows()}
        return sha256_hex(canonical_json(body))
    sentinel = f"reports-{uuid.uuid4().hex}"
    text = canonical_json({**inputs_body(inputs, with_reports=False), "reports": [sentinel]})
    mark = canonical_json([sentinel])
    if text.count(mark) != 1:  # pragma: no cover - a random sentinel found elsewhere in the inputs
        body = {**inputs_body(inputs, with_reports=False), "reports": frame.rows()}
        return sha256_hex(canonical_json(body))
    before, after = text.split(mark)
    digest = hashlib.sha256(before + b"[")
    for start in range(0, frame.height, chunk):
        if start:
            digest.update(b",")
        digest.update(_report_list_text(frame.slice(start, chunk)))
    digest.update(b"]" + after)
    return "0x" + digest.hexdigest()


def _report_list_text(part: pl.DataFrame) -> bytes | memoryview:
    """Rows `["id",received_at]` joined by commas, as canonical JSON writes them (ids already known to be
    plain JSON text). Where every id has the same length and every time the same number of digits (report
    ids are hex hashes, times of one epoch ten digits), the rows are laid out as bytes of a fixed width with
    numpy (twice as fast as formatting each row's text); otherwise each row is formatted by polars."""
    ids, times = part["report_id"], part["received_at"]
    widths, low, high = ids.str.len_bytes(), times.min(), times.max()
    if part.height and widths.min() == widths.max() and isinstance(low, int) and isinstance(high, int):
        digits = len(str(high))
        if low > 0 and len(str(low)) == digits:
            return _fixed_width_rows(ids, times, int(widths[0]), digits)
    return str(
        part.select(
            pl.concat_str(
                pl.lit('["'),
                pl.col("report_id"),
                pl.lit('",'),
                pl.col("received_at").cast(pl.String),
                pl.lit("]"),
            ).str.join(",")
        ).item()
    ).encode()


def _fixed_width_rows(ids: pl.Series, times: pl.Series, width: int, digits: int) -> memoryview:
    """`_report_list_text` of ids of `width` bytes each and positive times of `digits` digits each."""
    rows = np.empty((len(ids), 2 + width + 2 + digits + 2), dtype=np.uint8)
    rows[:, 0:2] = np.frombuffer(b'["', dtype=np.uint8)
    rows[:, 2 : 2 + width] = _text_matrix(ids, width)
    rows[:, 2 + width : 4 + width] = np.frombuffer(b'",', dtype=np.uint8)
    rows[:, 4 + width : 4 + width + digits] = _text_matrix(times.cast(pl.String), digits)
    rows[:, -2:] = np.frombuffer(b"],", dtype=np.uint8)
    return rows.reshape(-1).data[:-1]  # hashed where it lies, not copied


def _text_matrix(text: pl.Series, width: int) -> npt.NDArray[np.uint8]:
    """The bytes of a column of texts of `width` bytes each, one row per text (laid out contiguously)."""
    array = text.to_arrow(compat_level=CompatLevel.oldest()).cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(-1, width)
