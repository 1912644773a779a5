"""Which quantities the model records each day, and how the rest follow from them.

A channel that equals another one for the given model (the oracle price without TWAP or misses is the
spot price; served demand without capacity limits or oracle halts is demand; without re-minting the mint
is the scheduled mint; without device types nothing is paid to devices) is not recorded: it is an alias,
resolved when read. The reward policy's ratio and weight are recorded always.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opendepin.economics.spec import ScenarioSpec

BASE_CHANNELS = (
    "supply",
    "price",
    "minted",
    "burned",
    "demand_usd",
    "incentives_usd",
    "usage_ratio",
    "usage_weight",
)
POLICY_CHANNELS = ("usage_paid", "coverage_paid", "unminted")
"""Tokens a day paid from the usage pool, from the coverage pool (with what flowed back to it), and usage
pay nobody earned that did not flow back (not minted); recorded when the scenario has device types."""
DEVICE_CHANNELS = ("devices", "tokens_per_device", "earnings_usd_per_device", "joins", "leaves")
RECORD_BUDGET_BYTES = 256 * 1024 * 1024


def choose_record_every(
    days: int, columns: int, channels: int, budget_bytes: int = RECORD_BUDGET_BYTES
) -> int:
    """Smallest of 1, 7, 30 or 365 days per recorded point that keeps float32 records within budget."""
    for every in (1, 7, 30):
        if -(-days // every) * columns * channels * 4 <= budget_bytes:
            return every
    return 365


@dataclass(frozen=True)
class ChannelLayout:
    """Recorded channel names in record order, their positions, and aliases (None: always zero)."""

    recorded: tuple[str, ...]
    aliases: dict[str, str | None] = field(default_factory=dict)
    sector_names: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()

    @property
    def index(self) -> dict[str, int]:
        """Position of each recorded channel, plus the first sector and first device channel."""
        positions = {name: i for i, name in enumerate(self.recorded)}
        if self.sector_names:
            positions["sector_demand"] = positions[f"demand_usd[{self.sector_names[0]}]"]
        if self.device_names:
            positions["devices"] = positions[f"devices[{self.device_names[0]}]"]
        return positions

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

    @classmethod
    def for_model(cls, spec: ScenarioSpec, oracle: bool, remint: bool, capacity: bool) -> ChannelLayout:
        """The layout the model writes for this structure (see module docstring)."""
        recorded = list(BASE_CHANNELS)
        aliases: dict[str, str | None] = {}
        if capacity or oracle:
            recorded.append("served_usd")
        else:
            aliases["served_usd"] = "demand_usd"
        if oracle:
            recorded += ["oracle_price", "halted"]
        else:
            aliases.update({"oracle_price": "price", "halted": None})
        if remint:
            recorded += ["scheduled_mint", "remint"]
        else:
            aliases.update({"scheduled_mint": "minted", "remint": None})
        if spec.devices:
            recorded += POLICY_CHANNELS
        else:
            aliases.update(dict.fromkeys(POLICY_CHANNELS))
        sectors = tuple(sector.name for sector in spec.sectors)
        devices = tuple(device.name for device in spec.devices)
        recorded += [f"demand_usd[{name}]" for name in sectors]
        recorded += [f"{kind}[{name}]" for kind in DEVICE_CHANNELS for name in devices]
        return cls(tuple(recorded), aliases, sectors, devices)
