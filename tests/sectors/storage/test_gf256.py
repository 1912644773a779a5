"""GF(2⁸) Reed-Solomon as zfec builds it, and error location over one stripe (Berlekamp-Welch)."""

from __future__ import annotations

import random

import pytest
import zfec
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.storage import gf256


def zfec_shares(k: int, n: int, data: bytes) -> list[bytes]:
    size = len(data) // k
    blocks = [data[i * size : (i + 1) * size] for i in range(k)]
    return [bytes(s) for s in zfec.Encoder(k, n).encode(blocks)]


def test_field_tables_are_a_field() -> None:
    for a in range(1, 256):
        assert gf256.mul(a, gf256.inv(a)) == 1
    with pytest.raises(ZeroDivisionError):
        gf256.inv(0)
    assert len(set(gf256.share_points(255))) == 255


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.binary(min_size=8, max_size=8))
def test_every_zfec_column_is_one_polynomial_at_the_share_points(k: int, extra: int, seed: bytes) -> None:
    """The claim the auditor relies on: column j of zfec's n shares = a degree < k polynomial evaluated at
    share_points(n), so any k shares predict the others."""
    n = k + extra
    data = random.Random(seed).randbytes(k * 16)
    shares = zfec_shares(k, n, data)
    points = gf256.share_points(n)
    for col in range(16):
        ys = [s[col] for s in shares]
        coeffs = gf256.interpolate(points[:k], ys[:k])
        assert [gf256.poly_eval(coeffs, x) for x in points] == ys


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_error_location_names_exactly_the_wrong_shares(data: st.DataObject) -> None:
    k = data.draw(st.integers(2, 6))
    n = data.draw(st.integers(k + 2, 12))
    shares = zfec_shares(k, n, data.draw(st.binary(min_size=k * 32, max_size=k * 32)))
    budget = (n - k) // 2
    wrong = data.draw(st.sets(st.integers(0, n - 1), max_size=budget))
    stripes = {}
    for i, share in enumerate(shares):
        s = bytearray(share)
        if i in wrong:
            col = data.draw(st.integers(0, len(s) - 1))
            s[col] ^= data.draw(st.integers(1, 255))
        stripes[i] = bytes(s)
    assert gf256.locate_wrong_shares(k, n, stripes) == sorted(wrong)


def test_error_location_with_some_holders_absent() -> None:
    k, n = 4, 10
    shares = zfec_shares(k, n, random.Random(1).randbytes(4 * 256))
    present = {i: shares[i] for i in (0, 2, 3, 5, 6, 8, 9)}  # 7 of 10: one wrong share can be named
    present[6] = bytes(b ^ 0x5A for b in present[6])
    assert gf256.locate_wrong_shares(k, n, present) == [6]


def test_too_many_wrong_shares_is_undecided_not_a_wrong_name() -> None:
    k, n = 4, 6
    shares = zfec_shares(k, n, random.Random(2).randbytes(4 * 64))
    stripes = dict(enumerate(shares))
    for i in (1, 4):
        stripes[i] = bytes(b ^ 1 for b in stripes[i])
    assert gf256.locate_wrong_shares(k, n, stripes) is None


def test_k_shares_alone_cannot_disagree() -> None:
    k, n = 4, 10
    shares = zfec_shares(k, n, random.Random(3).randbytes(4 * 32))
    assert gf256.locate_wrong_shares(k, n, {i: shares[i] for i in range(k)}) == []


def test_unequal_stripes_are_refused() -> None:
    with pytest.raises(ValueError):
        gf256.locate_wrong_shares(2, 4, {0: b"ab", 1: b"a"})
