"""Which quantities the model records each day, where each one comes from, and how the rest follow.

A channel that equals another one for the given model (the oracle price without TWAP or misses is the
spot price; served demand without capacity limits or oracle halts is demand; without re-minting the mint
is the scheduled mint; without locks the circulating supply is the supply; without device types nothing is
paid to devices) is not recorded: it is an alias, resolved when read. Revenue (USD users actually paid,
burned × oracle price) and unmet demand (what could not burn because the circulating supply ran out) are
recorded always: burns are what was actually burned.

Recording windows end at multiples of `every` days *and* at every year's end (day 365, 730, …), so that a
figure said to be "at day 365" is the window ending that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from opendepin.economics import layout as k
from opendepin.economics.spec import DAYS_PER_YEAR, ScenarioSpec

DAY_CHANNELS: dict[str, int] = {
    "supply": k.Z_SUPPLY,
    "price": k.Z_PRICE,
    "minted": k.Z_MINTED,
    "burned": k.Z_BURNED,
    "demand_usd": k.Z_DEMAND,
    "revenue_usd": k.Z_REVENUE,
    "unmet_usd": k.Z_UNMET,
    "incentives_usd": k.Z_INCENTIVES,
    "usage_ratio": k.Z_RATIO,
    "usage_weight": k.Z_WEIGHT,
    "sold": k.Z_SOLD,
    "holdings": k.Z_HOLDINGS,
    "served_usd": k.Z_SERVED,
    "oracle_price": k.Z_ORACLE,
    "halted": k.Z_HALTED,
    "scheduled_mint": k.Z_SCHEDULED,
    "remint": k.Z_REMINT,
    "circulating": k.Z_CIRCULATING,
    "locked": k.Z_LOCKED,
    "staked": k.Z_STAKED,
    "expected_return": k.Z_EXPECT,
    "hold_share": k.Z_HOLD,
    "usage_paid": k.Z_USAGE_PAID,
    "coverage_paid": k.Z_COVERAGE_PAID,
    "unminted": k.Z_UNMINTED,
    "cheater_paid": k.Z_CHEATERS,
    "contributor_rewards": k.Z_CONTRIBUTOR_REWARDS,
    "sold_by_contributors": k.Z_SOLD_CONTRIBUTORS,
}
"""Every per-column channel of a day and the kernel's Z row it reads."""
BASE_CHANNELS = (
    "supply",
    "price",
    "minted",
    "burned",
    "demand_usd",
    "revenue_usd",
    "unmet_usd",
    "incentives_usd",
    "usage_ratio",
    "usage_weight",
    "sold",
    "holdings",
)
POLICY_CHANNELS = ("usage_paid", "coverage_paid", "unminted", "contributor_rewards", "sold_by_contributors")
"""Tokens a day paid from the usage pool, from the coverage pool (with what flowed back to it), usage pay
nobody earned that did not flow back (not minted), paid to contributors in all, and sold by them; recorded
when the scenario has device types."""
DEVICE_CHANNELS = ("devices", "tokens_per_device", "earnings_usd_per_device", "joins", "leaves")
RECORD_BUDGET_BYTES = 256 * 1024 * 1024
RECORD_STEPS = (1, 7, 30, 365)


def choose_record_every(
    days: int, columns: int, channels: int, budget_bytes: int = RECORD_BUDGET_BYTES
) -> int:
    """Smallest of 1, 7, 30 or 365 days per recorded point that keeps float32 records within budget."""
    for every in RECORD_STEPS[:-1]:
        if count_windows(days, every) * columns * channels * 4 <= budget_bytes:
            return every
    return RECORD_STEPS[-1]


def window_ends(days: int, every: int) -> NDArray[np.int64]:
    """Last day (1-based, exclusive end) of each recording window: multiples of `every` restarting at each
    year, every year's end, and the horizon."""
    ends: list[int] = []
    for year_start in range(0, days, DAYS_PER_YEAR):
        year_end = min(year_start + DAYS_PER_YEAR, days)
        ends.extend(range(year_start + every, year_end, every))
        ends.append(year_end)
    return np.array(ends, dtype=np.int64)


def count_windows(days: int, every: int) -> int:
    """Recording windows of a horizon (see `window_ends`)."""
    return int(window_ends(days, every).shape[0])


@dataclass(frozen=True)
class ChannelLayout:
    """Recorded channel names in record order, their positions, and aliases (None: always zero)."""

    recorded: tuple[str, ...]
    aliases: dict[str, str | None] = field(default_factory=dict)
    sector_names: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()

    @property
    def index(self) -> dict[str, int]:
        """Position of each recorded channel."""
        return {name: i for i, name in enumerate(self.recorded)}

    @property
    def names(self) -> tuple[str, ...]:
        """Every readable channel: recorded ones and aliases."""
        return self.recorded + tuple(name for name in self.aliases if name not in self.recorded)

    def resolve(self, name: str) -> str | None:
        """The recorded channel `name` reads from (None: constant zero)."""
        if name in self.recorded:
            return name
        if name in self.aliases:
            return self.aliases[name]
        raise KeyError(f"no channel {name!r}; readable: {', '.join(self.names)}")

    def only(self, names: tuple[str, ...]) -> ChannelLayout:
        """The layout recording just what `names` read (a smaller, faster record; other names then raise
        KeyError when read)."""
        sources = [self.resolve(name) for name in names]
        recorded = tuple(dict.fromkeys(s for s in self.recorded if s in sources))
        aliases = {name: self.aliases[name] for name in names if name in self.aliases}
        return ChannelLayout(recorded, aliases, self.sector_names, self.device_names)

    def sources(self) -> NDArray[np.int64]:
        """Where the kernel reads each recorded channel (see kernel._record)."""
        sectors, types = len(self.sector_names), len(self.device_names)
        codes = []
        for name in self.recorded:
            if name in DAY_CHANNELS:
                codes.append(DAY_CHANNELS[name])
                continue
            kind, _, rest = name.partition("[")
            item = rest.rstrip("]")
            if kind == "demand_usd":
                codes.append(k.N_DAY + self.sector_names.index(item))
            else:
                position = DEVICE_CHANNELS.index(kind) * types + self.device_names.index(item)
                codes.append(k.N_DAY + sectors + position)
        return np.array(codes, dtype=np.int64)

    @classmethod
    def for_model(
        cls,
        spec: ScenarioSpec,
        oracle: bool,
        remint: bool,
        capacity: bool,
        *,
        locks: bool = False,
        leakage: bool = False,
    ) -> ChannelLayout:
        """The layout the model writes for this structure (see module docstring)."""
        recorded = list(BASE_CHANNELS)
        aliases: dict[str, str | None] = {}

        def keep(names: tuple[str, ...], condition: bool, otherwise: dict[str, str | None]) -> None:
            if condition:
                recorded.extend(names)
            else:
                aliases.update(otherwise)

        keep(("served_usd",), capacity or oracle, {"served_usd": "demand_usd"})
        keep(("oracle_price", "halted"), oracle, {"oracle_price": "price", "halted": None})
        keep(("scheduled_mint", "remint"), remint, {"scheduled_mint": "minted", "remint": None})
        unlocked = {"circulating": "supply", "locked": None, "staked": None}
        keep(("circulating", "locked", "staked"), locks, unlocked)
        keep(("expected_return", "hold_share"), spec.selling.rule == "agents", {})
        if spec.selling.rule != "agents":
            aliases.update({"expected_return": None, "hold_share": None})
        keep(POLICY_CHANNELS, bool(spec.devices), dict.fromkeys(POLICY_CHANNELS))
        keep(("cheater_paid",), leakage and bool(spec.devices), {"cheater_paid": None})
        sectors = tuple(sector.name for sector in spec.sectors)
        devices = tuple(device.name for device in spec.devices)
        recorded += [f"demand_usd[{name}]" for name in sectors]
        recorded += [f"{kind}[{name}]" for kind in DEVICE_CHANNELS for name in devices]
        return cls(tuple(recorded), aliases, sectors, devices)
