"""The network definition: one `network.toml` validated by pydantic (the network is data).

Every constant that decides money is a field here (or in a sector's own table), never a literal in a rule.
A wrong value raises :class:`ConfigError` whose message names the key and what is allowed.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BASIS_POINTS = 10_000
DEFAULT_CATEGORY_SPLITS: dict[str, int] = {
    "coverage": 3_000,
    "data_transfer": 5_000,
    "oracles": 700,
    "operations": 700,
    "stakers": 600,
}
"""A wireless network's split (Helium-style: coverage 30 %, data transfer 50 %), in basis points."""
DEFAULT_DEVICE_CATEGORIES: tuple[str, ...] = ("coverage", "data_transfer")


class ConfigError(ValueError):
    """A network.toml that cannot be used; the message names the key and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenConfig(_Strict):
    """The network token (ERC-20 on chain); amounts everywhere are integers in its smallest unit."""

    name: str = "OpenDePIN Token"
    symbol: Annotated[str, Field(min_length=1, max_length=11)] = "ODP"
    decimals: Annotated[int, Field(ge=0, le=18)] = 18
    max_supply: Annotated[int, Field(gt=0, description="whole tokens")] = 10_000_000_000

    @property
    def unit(self) -> int:
        """Smallest units per whole token."""
        return 10**self.decimals

    @property
    def max_supply_units(self) -> int:
        return self.max_supply * self.unit


class HalvingEmission(_Strict):
    """Helium-style halving: `initial_per_year` whole tokens, halved every `halving_period_days`."""

    kind: Literal["halving"] = "halving"
    initial_per_year: Annotated[int, Field(gt=0)] = 60_000_000
    halving_period_days: Annotated[int, Field(gt=0)] = 730


class FixedEmission(_Strict):
    """A constant emission of `per_year` whole tokens, until max supply is reached."""

    kind: Literal["fixed"] = "fixed"
    per_year: Annotated[int, Field(gt=0)] = 30_000_000


class DecliningEmission(_Strict):
    """Declining pool (Render, DIMO): `initial_per_year`, multiplied by `factor` every `period_days`."""

    kind: Literal["declining"] = "declining"
    initial_per_year: Annotated[int, Field(gt=0)] = 60_000_000
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.85
    period_days: Annotated[int, Field(gt=0)] = 364


EmissionConfig = Annotated[HalvingEmission | FixedEmission | DecliningEmission, Field(discriminator="kind")]


class EpochConfig(_Strict):
    """Epoch clock: epoch n covers [genesis + n·length, genesis + (n+1)·length)."""

    length_seconds: Annotated[int, Field(ge=60)] = 86_400
    genesis: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    lateness_seconds: Annotated[int, Field(ge=0, description="wait past epoch end before closing")] = 600

    @field_validator("genesis")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2026-01-01T00:00:00Z")
        return value

    @property
    def genesis_ts(self) -> int:
        return int(self.genesis.timestamp())


def _check_acyclic(flows: dict[str, dict[str, int]]) -> None:
    """Unused pools flow forward only: a flow that leads back to its source could never be allocated."""
    for start in flows:
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            for target in flows.get(frontier.pop(), {}):
                if target == start:
                    raise ValueError(f"unused_flows_to: {start!r} flows back to itself")
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)


class UsageConfig(_Strict):
    """How users' payments decide rewards (docs/architecture.md, "Users pay, providers earn").

    Each sector that meters usage names a usage category (the wireless sector: `data_transfer`). With r the
    value users paid in credits divided by the value of the epoch's emission (at the oracle price), the
    usage categories receive the weight w(r) of the device part of the emission and the other device
    categories 1 − w(r); `weight` lists (r, w) points, linear between them and flat outside. A device earns
    from usage pools at most `cap` × the token value of the credits it carried; the rest flows on as an
    unused pool does.
    """

    credit_usd: Annotated[float, Field(gt=0, description="USD value of one data credit")] = 0.00001
    cap: Annotated[float, Field(ge=0, description="most a device earns per value of credits carried")] = 1.0
    weight: list[tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0, le=1)]]] = Field(
        default_factory=lambda: [(0.0, 0.0), (1.0, 0.9)]
    )
    reference_price_usd: Annotated[
        float, Field(gt=0, description="token price used when the epoch has no oracle price")
    ] = 1.0

    @model_validator(mode="after")
    def _increasing(self) -> UsageConfig:
        ratios = [r for r, _ in self.weight]
        if not ratios or any(b <= a for a, b in pairwise(ratios)):
            raise ValueError("usage.weight: give (ratio, weight) points with strictly increasing ratios")
        return self


class RewardsConfig(_Strict):
    """Category splits in basis points (default: a wireless network's coverage 30 %, data transfer 50 % …).

    `device_categories` are paid to devices by the sectors' scores; the other categories are paid to the
    addresses in `recipients` (oracles, operations, stakers). The unused part of a device category flows to
    the categories of `unused_flows_to` in the given basis points (HIP-10: unused data-transfer rewards flow
    back to coverage; wireless-poc.md: 80 % witnesses / 20 % beacons); what nobody can take stays unminted
    and is recorded as the epoch's remainder.
    """

    categories: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_SPLITS)
    )
    device_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_DEVICE_CATEGORIES))
    unused_flows_to: dict[str, dict[str, Annotated[int, Field(ge=0)]]] = Field(
        default_factory=lambda: {"data_transfer": {"coverage": BASIS_POINTS}}
    )
    recipients: dict[str, str] = Field(default_factory=dict)
    usage: UsageConfig = UsageConfig()

    @model_validator(mode="after")
    def _consistent(self) -> RewardsConfig:
        total = sum(self.categories.values())
        if total != BASIS_POINTS:
            raise ValueError(f"categories must sum to {BASIS_POINTS} basis points (100 %), got {total}")
        for name in self.device_categories:
            if name not in self.categories:
                raise ValueError(
                    f"device category {name!r} is not one of categories {sorted(self.categories)}"
                )
        for src, targets in self.unused_flows_to.items():
            for dst in [src, *targets]:
                if dst not in self.device_categories:
                    raise ValueError(f"unused_flows_to {src!r} -> {dst!r}: both must be device categories")
            if sum(targets.values()) != BASIS_POINTS:
                raise ValueError(f"unused_flows_to.{src} must sum to {BASIS_POINTS} basis points")
        _check_acyclic(self.unused_flows_to)
        for name, address in self.recipients.items():
            if name not in self.categories or name in self.device_categories:
                raise ValueError(f"recipient {name!r} must be a non-device category")
            if not (address.startswith("0x") and len(address) == 42):
                raise ValueError(f"recipient {name!r} must be a 0x-prefixed 20-byte EVM address")
        return self


class IngestConfig(_Strict):
    """The ingest gate: batch bound, time window around the receive time, rejection limits."""

    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 1_000
    max_report_bytes: Annotated[int, Field(ge=128)] = 16_384
    max_past_seconds: Annotated[int, Field(ge=0)] = 3_600
    max_future_seconds: Annotated[int, Field(ge=0)] = 300
    rejections_per_second: Annotated[
        int, Field(ge=1, description="rejected reports a source may cause per second, sustained")
    ] = 10
    rejection_burst: Annotated[
        int, Field(ge=1, description="rejected reports a source may cause at once before it gets 429")
    ] = 5_000
    rate_limited_sources: Annotated[
        int, Field(ge=1, le=10_000_000, description="sources the rate limiter remembers at once")
    ] = 100_000
    rejection_bucket_seconds: Annotated[
        int, Field(ge=60, description="rejection counters are kept per source, reason and this period")
    ] = 3_600
    device_reports_per_hour: Annotated[
        int,
        Field(ge=0, description="accepted reports a device may send an hour, sustained (0: no bound)"),
    ] = 3_600
    device_report_burst: Annotated[
        int, Field(ge=1, description="accepted reports a device may send at once (store-and-forward uploads)")
    ] = 10_000
    rejection_samples: Annotated[
        int, Field(ge=0, le=1_000, description="raw rejected reports kept per reason (the latest)")
    ] = 8
    rejection_sample_bytes: Annotated[
        int, Field(ge=0, le=16_384, description="bytes kept of each sampled rejected report")
    ] = 512


class StoreConfig(_Strict):
    kind: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "depin.sqlite"
    dsn: str = "postgresql://postgres@127.0.0.1:5432/opendepin"


class ChainConfig(_Strict):
    kind: Literal["embedded", "rpc", "none"] = "embedded"
    rpc_url: str = "http://127.0.0.1:8545"
    confirmations: Annotated[int, Field(ge=0)] = 1
    oracle_threshold: Annotated[int, Field(ge=1)] = 1
    oracle_count: Annotated[int, Field(ge=1)] = 1
    claim_share: Annotated[float, Field(ge=0, le=1, description="share of owners the fleet lets claim")] = 0.5


class MakerConfig(_Strict):
    """A manufacturer whose onboarding attestations the network accepts, identified by its EVM address."""

    name: str
    address: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="maker's EVM address")]


class SharedConfig(_Strict):
    """Report kinds and reward categories that several sectors may claim at once (else a config error)."""

    kinds: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class SectorConfig(_Strict):
    """A sector switched on, with its own parameters (validated by the sector's params model)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    enabled: bool = True


class NetworkConfig(_Strict):
    """Root of network.toml."""

    name: str = "opendepin-local"
    token: TokenConfig = TokenConfig()
    emission: EmissionConfig = HalvingEmission()
    epochs: EpochConfig = EpochConfig()
    rewards: RewardsConfig = RewardsConfig()
    ingest: IngestConfig = IngestConfig()
    store: StoreConfig = StoreConfig()
    chain: ChainConfig = ChainConfig()
    makers: list[MakerConfig] = Field(default_factory=list)
    sectors: dict[str, SectorConfig] = Field(default_factory=lambda: {"wireless": SectorConfig()})
    shared: SharedConfig = SharedConfig()

    def sector_params(self, name: str) -> dict[str, Any]:
        """The raw parameter table of sector `name` (without `enabled`)."""
        section = self.sectors.get(name)
        if section is None:
            return {}
        return {k: v for k, v in section.model_dump().items() if k != "enabled"}

    @property
    def enabled_sectors(self) -> list[str]:
        return sorted(name for name, section in self.sectors.items() if section.enabled)


def _format_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"{key}: {item['msg']} (got {item.get('input')!r})")
    return "invalid network.toml:\n  " + "\n  ".join(lines)


def parse_config(data: dict[str, Any]) -> NetworkConfig:
    """Validate a parsed TOML table; raise ConfigError naming each wrong key. Sector tables are validated by
    their plug-ins when the shell loads them (`opendepin.sectors.registry.load_sectors`)."""
    try:
        config = NetworkConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_error(error)) from None
    return config


def load_config(path: Path) -> NetworkConfig:
    """Read and validate `path` (a network.toml)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; create one with `depin init DIR`") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_config(data)
