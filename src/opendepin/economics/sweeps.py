"""Parameter sweeps: a full grid over listed values, or uniform random draws in ranges (seeded).

Each parameter set is the base scenario with some numbers replaced (dotted paths, see
:func:`opendepin.economics.scenarios.with_overrides`); all sets share one structure, so they are
simulated together as columns of one batch.
"""

from __future__ import annotations

import itertools

import numpy as np

from opendepin.economics.scenarios import with_overrides
from opendepin.economics.spec import ScenarioSpec, SweepSpec

ParameterSet = dict[str, float]


def compute_grid(sweep: SweepSpec) -> list[ParameterSet]:
    """Every combination of `values` (the last path varies fastest)."""
    names = list(sweep.values)
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(sweep.values[k] for k in names))
    ]


def compute_random(sweep: SweepSpec) -> list[ParameterSet]:
    """`samples` independent uniform draws in each `ranges` interval, from `sweep.seed`."""
    rng = np.random.default_rng(sweep.seed)
    names = list(sweep.ranges)
    draws = {name: rng.uniform(*sweep.ranges[name], size=sweep.samples) for name in names}
    return [{name: float(draws[name][i]) for name in names} for i in range(sweep.samples)]


def expand_sweep(spec: ScenarioSpec) -> tuple[tuple[ScenarioSpec, ...], list[ParameterSet]]:
    """The parameter sets of a scenario (just itself when it has no sweep) and what each one changes."""
    if spec.sweep is None:
        return (spec,), [{}]
    sets = compute_grid(spec.sweep) if spec.sweep.kind == "grid" else compute_random(spec.sweep)
    return tuple(with_overrides(spec, overrides) for overrides in sets), sets
