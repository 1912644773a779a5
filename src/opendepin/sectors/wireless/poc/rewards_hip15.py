"""HIP-15 reward units and the HIP-83 witness cap (specs/wireless-poc.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from opendepin.sectors.wireless.poc.params import PocParams

T = TypeVar("T")


def compute_beacon_unit(n: int, params: PocParams) -> float:
    """HIP-15 beaconer unit: n/R if n ≤ R, else min(cap, 2 − decay^(n−R))."""
    r = params.witness_redundancy
    if n <= r:
        return n / r
    return min(params.unit_cap, 2 - params.unit_decay ** (n - r))


def compute_witness_unit(n: int, params: PocParams) -> float:
    """HIP-15 unit of each of n witnesses: 1 if n ≤ R, else min(cap, (R − (1 − decay^(n−R))) / n)."""
    r = params.witness_redundancy
    if n <= 0:
        return 0.0
    if n <= r:
        return 1.0
    return min(params.unit_cap, (r - (1 - params.unit_decay ** (n - r))) / n)


def select_witnesses(ordered: Sequence[T], params: PocParams) -> tuple[list[T], list[T]]:
    """HIP-83: keep at most `witness_cap` valid witnesses, first received first; return (kept, dropped)."""
    return list(ordered[: params.witness_cap]), list(ordered[params.witness_cap :])
