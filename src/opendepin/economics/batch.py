"""Runs × parameter sets laid out as one vector axis (the model's batch axis).

K parameter sets (scenario variants of the same structure) with R Monte Carlo runs each become N = K·R
columns; column j belongs to set j // R. A parameter equal in all sets stays a Python float (cheapest
broadcast); otherwise it becomes an (N,) array. Paths (time first) are kept per set and gathered per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.spec import ScenarioSpec

FloatArray = NDArray[np.float64]


class StructureMismatchError(ValueError):
    """Parameter sets of one batch differ in shape (sectors, device types, schedule or price kind)."""


def describe_structure(spec: ScenarioSpec) -> tuple[object, ...]:
    """What must be identical across one batch: only numbers may vary between parameter sets."""
    return (
        tuple(sector.name for sector in spec.sectors),
        tuple((device.name, device.sector) for device in spec.devices),
        spec.emission.kind,
        spec.price.kind,
        spec.oracle.twap_days,
        spec.burn_mint.remint,
        spec.days,
        tuple(sector.capacity_usd_per_device_day is None for sector in spec.sectors),
    )


@dataclass(frozen=True)
class Batch:
    """The parameter sets of one vectorised simulation and the number of runs of each."""

    variants: tuple[ScenarioSpec, ...]
    runs: int

    def __post_init__(self) -> None:
        if not self.variants:
            raise StructureMismatchError("a batch needs at least one parameter set")
        first = describe_structure(self.variants[0])
        for variant in self.variants[1:]:
            if describe_structure(variant) != first:
                raise StructureMismatchError(
                    "parameter sets of one sweep may change numbers only, not sectors, device types, "
                    "the emission kind, the price kind, the TWAP window, re-minting or the horizon"
                )

    @property
    def sets(self) -> int:
        return len(self.variants)

    @property
    def size(self) -> int:
        return self.sets * self.runs

    @property
    def set_index(self) -> NDArray[np.int64]:
        """Parameter set of each column."""
        return np.repeat(np.arange(self.sets), self.runs)

    def column(self, get: Callable[[ScenarioSpec], float]) -> FloatArray | float:
        """One scalar parameter: a float if equal in every set, else an (N,) array."""
        values = [float(get(variant)) for variant in self.variants]
        if all(value == values[0] for value in values):
            return values[0]
        return np.repeat(np.array(values, dtype=np.float64), self.runs)

    def rows(self, get: Callable[[ScenarioSpec], Sequence[float]]) -> FloatArray:
        """One parameter per sector or device type: (rows, 1) if equal in every set, else (rows, N)."""
        table = np.array(
            [[float(value) for value in get(variant)] for variant in self.variants], dtype=np.float64
        )
        if table.shape[1] == 0 or bool(np.all(table == table[0])):
            return table[0][:, None]
        return np.repeat(table.T, self.runs, axis=1)

    def path(self, compute: Callable[[ScenarioSpec], FloatArray]) -> PathTable:
        """A per-set path (time first, any trailing shape), gathered per step with `PathTable.at`."""
        return PathTable(np.stack([compute(variant) for variant in self.variants], axis=-1), self.set_index)


@dataclass(frozen=True)
class PathTable:
    """Paths of shape (T, ..., K): `at(t)` gives (..., 1) when K = 1, else (..., N) for the batch."""

    table: FloatArray
    set_index: NDArray[np.int64]

    def at(self, t: int) -> FloatArray:
        row = self.table[t]
        if self.table.shape[-1] == 1:
            return row
        return row[..., self.set_index]

    def block(self, start: int, stop: int) -> FloatArray:
        """Rows [start, stop) gathered for the batch, shape (stop − start, ..., 1 or N)."""
        rows = self.table[start:stop]
        if self.table.shape[-1] == 1:
            return rows
        return rows[..., self.set_index]
