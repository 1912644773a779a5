"""Custom policies: plain Python functions that replace a decision of the model, without editing it.

    from opendepin.economics import Policies, run

    def weight(day):                       # the reward policy: usage weight from the usage ratio
        return np.minimum(day.usage_ratio, 1.0) * 0.5

    def sell(day):                         # contributors sell everything they are paid
        return day.contributor_rewards

    def emission(spec, days):              # tokens scheduled per day (days since genesis)
        return np.full(days.shape, 100_000.0)

    results = run("growth", policies=Policies(usage_weight=weight, sell=sell, emission=emission))

`usage_weight` and `sell` are called once a day with a :class:`DayView` of every column (runs × parameter
sets) and return one value per column (or one for all): the usage weight w in [0, 1] (clipped), and the
tokens contributors sell that day (clipped to what they hold). They run between the phases of the compiled
day (:mod:`.kernel`), so a day is simulated as with the built-in policies except for that decision; a
function that returns the built-in value (`day.default_weight`, `day.default_sold`) gives the same paths.
`emission` is evaluated once for the whole horizon (capped at max supply like the schedules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from opendepin.economics import layout as L
from opendepin.economics.inputs import MintPath, ModelInputs
from opendepin.economics.spec import ScenarioSpec

FloatArray = NDArray[np.float64]


class DayView:
    """The day's values of every column, read-only (arrays of shape (N,); per device type (types, N))."""

    def __init__(
        self, day: int, state: tuple[Any, ...], variants: tuple[ScenarioSpec, ...], runs: int
    ) -> None:
        self.day = day
        self._x, self._z, self._zd = state[0], state[4], state[6]
        self.variants = variants
        self.runs = runs

    def _row(self, row: int) -> FloatArray:
        view = self._z[row].view()
        view.flags.writeable = False
        return view

    @property
    def set_index(self) -> NDArray[np.int64]:
        """Parameter set of each column."""
        return np.repeat(np.arange(len(self.variants)), self.runs)

    @property
    def price(self) -> FloatArray:
        return self._row(L.Z_PRICE)

    @property
    def oracle_price(self) -> FloatArray:
        return self._row(L.Z_ORACLE)

    @property
    def demand_usd(self) -> FloatArray:
        return self._row(L.Z_DEMAND)

    @property
    def served_usd(self) -> FloatArray:
        return self._row(L.Z_SERVED)

    @property
    def burned(self) -> FloatArray:
        return self._row(L.Z_BURNED)

    @property
    def minted(self) -> FloatArray:
        return self._row(L.Z_MINTED)

    @property
    def usage_ratio(self) -> FloatArray:
        return self._row(L.Z_RATIO)

    @property
    def default_weight(self) -> FloatArray:
        """The built-in w(r) (before a custom `usage_weight` replaces it)."""
        return self._row(L.Z_WEIGHT)

    @property
    def contributor_rewards(self) -> FloatArray:
        """Tokens paid to contributors today (after phase B)."""
        return self._row(L.Z_CONTRIBUTOR_REWARDS)

    @property
    def opex_usd(self) -> FloatArray:
        """Contributors' operating costs today in USD (after phase B)."""
        return self._row(L.Z_OPEX_USD)

    @property
    def default_sold(self) -> FloatArray:
        """Tokens contributors sell today by the built-in `[selling]` rule (after phase B)."""
        return self._row(L.Z_SOLD_CONTRIBUTORS)

    @property
    def supply(self) -> FloatArray:
        view = self._x[L.X_SUPPLY].view()
        view.flags.writeable = False
        return view

    @property
    def expected_return(self) -> FloatArray:
        """μ̂: the expected yearly price return of the selling rule."""
        view = self._x[L.X_EXPECT].view()
        view.flags.writeable = False
        return view

    @property
    def held_by_contributors(self) -> FloatArray:
        view = self._x[L.X_HELD_CONTRIBUTORS].view()
        view.flags.writeable = False
        return view

    @property
    def devices(self) -> FloatArray:
        """Devices of each type (types, N)."""
        view = self._zd[L.ZD_COUNT].view()
        view.flags.writeable = False
        return view


Decision = Callable[[DayView], ArrayLike]


@dataclass(frozen=True)
class Policies:
    """Decisions to replace (None: the model's own)."""

    usage_weight: Decision | None = None
    sell: Decision | None = None
    emission: MintPath | None = None

    @property
    def decides_daily(self) -> bool:
        return self.usage_weight is not None or self.sell is not None


def _column_values(values: ArrayLike, n: int, what: str) -> FloatArray:
    array = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,))
    if not np.all(np.isfinite(array)):
        raise ValueError(f"the custom {what} policy returned a value that is not finite")
    return array


def run_phased(
    kernel: ModuleType,
    inputs: ModelInputs,
    inp: tuple[Any, ...],
    state: tuple[Any, ...],
    policies: Policies,
    variants: tuple[ScenarioSpec, ...],
    runs: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Every day: phase A, the custom usage weight, phase B, the custom selling, phase C."""
    z = state[4]
    n = inputs.size
    for t in range(inputs.days):
        kernel.phase_a(t, inp, state)
        if policies.usage_weight is not None:
            values = _column_values(
                policies.usage_weight(DayView(t, state, variants, runs)), n, "usage_weight"
            )
            z[L.Z_WEIGHT] = np.clip(values, 0.0, 1.0)
        kernel.phase_b(t, inp, state)
        if policies.sell is not None:
            z[L.Z_SOLD_CONTRIBUTORS] = _column_values(
                policies.sell(DayView(t, state, variants, runs)), n, "sell"
            )
        kernel.phase_c(t, inp, state)
        if progress is not None and ((t + 1) % 365 == 0 or t + 1 == inputs.days):
            progress((t % 365) + 1)
