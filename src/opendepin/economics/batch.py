"""Runs × parameter sets laid out as one vector axis (the model's batch axis).

K parameter sets (scenario variants of the same structure) with R Monte Carlo runs each become N = K·R
columns; column j belongs to set j // R and is run j % R of it (runs of the same number share their random
paths across sets: common random numbers). Parameters become (N,) columns, paths (time first) are kept per
set (see :mod:`.inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.spec import ScenarioSpec


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
        spec.selling.rule,
        spec.staking is not None,
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
                    "the emission kind, the price kind, the TWAP window, re-minting, the horizon, the "
                    "selling rule or whether tokens are staked"
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
