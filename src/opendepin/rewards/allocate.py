"""Integer allocation of a pool by shares: never over-allocates, the remainder is explicit.

Rule (exact money, Helium's rounding toward zero): amount_i = ⌊pool · units_i / Σ units⌋;
remainder = pool − Σ amount_i, recorded, never paid to anyone implicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opendepin.rewards.amounts import TokenUnits


@dataclass(frozen=True, slots=True)
class Allocation:
    """Who gets what from one pool, and what is left over."""

    amounts: Mapping[str, TokenUnits]
    remainder: TokenUnits

    @property
    def paid(self) -> int:
        return sum(self.amounts.values())


def allocate_pool(pool: int, units: Mapping[str, int]) -> Allocation:
    """Split `pool` pro rata to integer `units`; zero or negative units earn nothing."""
    if pool < 0:
        raise ValueError(f"pool must be ≥ 0, got {pool}")
    positive = {key: value for key, value in units.items() if value > 0}
    total = sum(positive.values())
    if total == 0:
        return Allocation(amounts={}, remainder=TokenUnits(pool))
    amounts = {key: TokenUnits(pool * value // total) for key, value in sorted(positive.items())}
    return Allocation(amounts=amounts, remainder=TokenUnits(pool - sum(amounts.values())))


def split_by_basis_points(total: int, basis_points: Mapping[str, int]) -> Allocation:
    """Split `total` into categories by basis points (sum 10 000), rounding each toward zero."""
    amounts = {name: TokenUnits(total * bp // 10_000) for name, bp in sorted(basis_points.items())}
    return Allocation(amounts=amounts, remainder=TokenUnits(total - sum(amounts.values())))
