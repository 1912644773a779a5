"""Challenge entropy: derivation from (block hash, time), serving, lifespan at its edges."""

from __future__ import annotations

import pytest

from opendepin.sectors.wireless.poc.entropy import (
    compute_beacon_data,
    compute_entropy,
    compute_entropy_timestamp,
    get_entropy,
    is_entropy_fresh,
)
from opendepin.sectors.wireless.poc.params import PocParams

BLOCK = "0x" + "11" * 32


def test_entropy_is_deterministic_and_depends_on_both_inputs() -> None:
    value = compute_entropy(BLOCK, 1_000_020)
    assert value == compute_entropy(BLOCK.removeprefix("0x"), 1_000_020)
    assert len(value) == 64
    assert value != compute_entropy(BLOCK, 1_000_080)
    assert value != compute_entropy("0x" + "12" * 32, 1_000_020)


def test_invalid_block_hash_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match="block hash must be hex"):
        compute_entropy("not-hex", 0)


def test_served_entropy_is_aligned_to_the_period_and_expires_after_the_lifespan() -> None:
    params = PocParams()
    served = get_entropy(BLOCK, 1_000_059, params)
    assert served.timestamp == compute_entropy_timestamp(1_000_059, 60) == 1_000_020
    assert served.expires_at == served.timestamp + 180
    assert served.value == compute_entropy(BLOCK, served.timestamp)
    assert get_entropy(BLOCK, 1_000_079, params) == served


def test_entropy_fresh_at_the_end_of_its_lifespan() -> None:
    assert is_entropy_fresh(1_000, 1_180, 180)
    assert is_entropy_fresh(1_000, 1_000, 180)


def test_invalid_entropy_one_second_past_its_lifespan_or_from_the_future() -> None:
    assert not is_entropy_fresh(1_000, 1_181, 180)
    assert not is_entropy_fresh(1_000, 999, 180)


def test_beacon_data_binds_every_input() -> None:
    base = compute_beacon_data("aa" * 32, "01" * 8, "US915", 904_300_000)
    assert base != compute_beacon_data("aa" * 32, "02" * 8, "US915", 904_300_000)
    assert base != compute_beacon_data("aa" * 32, "01" * 8, "EU868", 904_300_000)
    assert base != compute_beacon_data("aa" * 32, "01" * 8, "US915", 904_500_000)
