"""HIP-15 reward units and the HIP-83 witness cap (docs/wireless-poc.md), in exact arithmetic.

Parameters written as decimals in network.toml (`unit_decay = 0.8`, `unit_cap = 2.0`) are read as the
decimal they spell (`Fraction(str(x))`: 0.8 is 4/5, not the nearest double), and every unit is a Fraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import TypeVar

from opendepin.sectors.wireless.poc.params import PocParams

T = TypeVar("T")


@lru_cache(maxsize=1024)
def as_fraction(value: float | int) -> Fraction:
    """A network.toml number as the exact decimal it spells (0.8 → 4/5)."""
    return Fraction(str(value))


@lru_cache(maxsize=4096)
def compute_units(n: int, redundancy: int, cap: float, decay: float) -> tuple[Fraction, Fraction]:
    """HIP-15 (beaconer unit, unit of each witness) for a beacon with n selected witnesses and R = redundancy:
    beaconer n/R if n ≤ R, else min(cap, 2 − decay^(n−R)); each witness 1 if n ≤ R (0 if n = 0), else
    min(cap, (R − (1 − decay^(n−R))) / n)."""
    if n <= redundancy:
        return Fraction(n, redundancy), Fraction(1 if n > 0 else 0)
    fade = as_fraction(decay) ** (n - redundancy)
    limit = as_fraction(cap)
    return min(limit, 2 - fade), min(limit, (redundancy - (1 - fade)) / n)


def compute_beacon_unit(n: int, params: PocParams) -> Fraction:
    """HIP-15 beaconer unit for a beacon with n selected witnesses: n/R if n ≤ R, else
    min(cap, 2 − decay^(n−R))."""
    return compute_units(n, params.witness_redundancy, params.unit_cap, params.unit_decay)[0]


def compute_witness_unit(n: int, params: PocParams) -> Fraction:
    """HIP-15 unit of each of n selected witnesses: 1 if n ≤ R, else min(cap, (R − (1 − decay^(n−R))) / n)."""
    return compute_units(n, params.witness_redundancy, params.unit_cap, params.unit_decay)[1]


def compute_hip15_total(counts: Mapping[int, int], params: PocParams, beacon: bool) -> Fraction:
    """Σ units of a device's counted reports, given how many of them had n selected witnesses (n → count)."""
    return compute_hip15_totals({"": counts}, params, beacon)[""]


def compute_hip15_totals(
    counts: Mapping[str, Mapping[int, int]], params: PocParams, beacon: bool
) -> dict[str, Fraction]:
    """Σ units of each device's counted reports (device → n → count): each unit over one common
    denominator, so a device's total is one integer sum and one reduction (the same Fraction as summing
    count × unit as Fractions)."""
    rule = compute_beacon_unit if beacon else compute_witness_unit
    units = {n: rule(n, params) for n in {n for per_n in counts.values() for n in per_n}}
    common = math.lcm(*(unit.denominator for unit in units.values()))
    scaled = {n: unit.numerator * (common // unit.denominator) for n, unit in units.items()}
    return {
        device: Fraction(sum(count * scaled[n] for n, count in per_n.items()), common)
        for device, per_n in counts.items()
    }


def select_witnesses(ordered: Sequence[T], params: PocParams) -> tuple[list[T], list[T]]:
    """HIP-83: keep at most `witness_cap` valid witnesses, first received first; return (kept, dropped)."""
    return list(ordered[: params.witness_cap]), list(ordered[params.witness_cap :])
