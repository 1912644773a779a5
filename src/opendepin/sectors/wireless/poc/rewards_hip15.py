"""HIP-15 reward units and the HIP-83 witness cap (docs/wireless-poc.md), in exact arithmetic.

Parameters written as decimals in network.toml (`unit_decay = 0.8`, `unit_cap = 2.0`) are read as the
decimal they spell (`Fraction(str(x))`: 0.8 is 4/5, not the nearest double), and every unit is a Fraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TypeVar

from opendepin.sectors.wireless.poc.params import PocParams

T = TypeVar("T")


def as_fraction(value: float | int) -> Fraction:
    """A network.toml number as the exact decimal it spells (0.8 → 4/5)."""
    return Fraction(str(value))


def compute_beacon_unit(n: int, params: PocParams) -> Fraction:
    """HIP-15 beaconer unit for a beacon with n selected witnesses: n/R if n ≤ R, else
    min(cap, 2 − decay^(n−R))."""
    r = params.witness_redundancy
    if n <= r:
        return Fraction(n, r)
    return min(as_fraction(params.unit_cap), 2 - as_fraction(params.unit_decay) ** (n - r))


def compute_witness_unit(n: int, params: PocParams) -> Fraction:
    """HIP-15 unit of each of n selected witnesses: 1 if n ≤ R, else min(cap, (R − (1 − decay^(n−R))) / n)."""
    r = params.witness_redundancy
    if n <= 0:
        return Fraction(0)
    if n <= r:
        return Fraction(1)
    return min(as_fraction(params.unit_cap), (r - (1 - as_fraction(params.unit_decay) ** (n - r))) / n)


def compute_hip15_total(counts: Mapping[int, int], params: PocParams, beacon: bool) -> Fraction:
    """Σ units of a device's counted reports, given how many of them had n selected witnesses (n → count)."""
    rule = compute_beacon_unit if beacon else compute_witness_unit
    return sum((count * rule(n, params) for n, count in sorted(counts.items())), Fraction(0))


def select_witnesses(ordered: Sequence[T], params: PocParams) -> tuple[list[T], list[T]]:
    """HIP-83: keep at most `witness_cap` valid witnesses, first received first; return (kept, dropped)."""
    return list(ordered[: params.witness_cap]), list(ordered[params.witness_cap :])
