"""Verdict blocks (store/verdict_blocks.py): the blocks of a verdict frame give back its rows in (device,
report) order with each block's device range, and bytes that are not such a block are store corruption."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.columns import VERDICT_SCHEMA
from opendepin.store import verdict_blocks
from opendepin.store.errors import StoreCorruption
from opendepin.store.report_blocks import compressed_frame_bytes, encode_block
from opendepin.store.verdict_blocks import decode_verdict_blocks, encode_verdict_blocks, verdict_frame

ROWS = st.lists(
    st.tuples(
        st.text(alphabet="0123456789abcdef", min_size=1, max_size=64),
        st.sampled_from(["ed25519:aa", "ed25519:bb", "p256:cc", "é"]),
        st.sampled_from(["ok", "heartbeat.location_too_far"]),
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=3),
    ),
    max_size=40,
    unique_by=lambda row: row[0],
)


@given(ROWS, st.integers(1, 7))
@settings(max_examples=80, deadline=None)
def test_blocks_give_back_the_rows_by_device(
    rows: list[tuple[str, str, str, dict[str, object]]], size: int
) -> None:
    original = verdict_blocks.VERDICT_BLOCK_ROWS
    verdict_blocks.VERDICT_BLOCK_ROWS = size
    try:
        frame = verdict_frame(rows)
        blocks = list(encode_verdict_blocks(frame))
    finally:
        verdict_blocks.VERDICT_BLOCK_ROWS = original
    assert dict(frame.schema) == VERDICT_SCHEMA
    back = decode_verdict_blocks(block.data for block in blocks)
    assert back.rows() == frame.sort("device_id", "report_id").rows()
    assert [b.row_count for b in blocks] == [min(size, len(rows) - i) for i in range(0, len(rows), size)]
    for block in blocks:
        devices = decode_verdict_blocks([block.data])["device_id"]
        assert (block.first_device, block.last_device) == (devices[0], devices[-1])


def test_bytes_that_are_not_a_verdict_block_are_corruption() -> None:
    (good_block,) = encode_verdict_blocks(verdict_frame([("ab", "d", "ok", {})]))
    good = good_block.data
    report_block = encode_block([("a", "k", "d", 1, 2, 3, b"e")]).data
    other_schema = compressed_frame_bytes(
        pl.DataFrame({"report_id": ["ab"], "why": ["x"]}),
        pa.schema([("report_id", pa.large_string()), ("why", pa.large_string())]),
    )
    for bad in (b"", good[: len(good) // 2], report_block, other_schema, b"\xff" * 64):
        with pytest.raises(StoreCorruption):
            decode_verdict_blocks([bad])
    assert decode_verdict_blocks([good]).rows() == [("ab", "d", "ok", "{}")]


def test_an_empty_epoch_has_no_verdict_block() -> None:
    assert list(encode_verdict_blocks(pl.DataFrame(schema=VERDICT_SCHEMA))) == []
    assert decode_verdict_blocks([]).is_empty()
