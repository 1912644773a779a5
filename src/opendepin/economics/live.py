"""Live data: what a running network paid, burned and rejected, read from the network itself.

Through the store interface (`opendepin.store`, SQLite or PostgreSQL as `[store]` in the data dir's
network.toml says), per closed epoch: the emission the schedule allowed (`emitted`), what was actually paid
to devices (`paid`: what was minted; emission without a recipient is not minted), the devices rewarded,
reports counted, reports refused at ingest (by reason) and found invalid, and the usage credits settled.
From the settlement chain (when the data dir has a deployment): tokens burned for data credits
(`DataCredits.total_burned`), the token supply, what was posted and claimed, credits outstanding and the
oracle price. Amounts stay exact integers (smallest units) here; they are converted to float64 whole tokens
only for the analysis tables.

A forecast from a network this small says nothing: `forecast_readiness` says whether there is enough
history (epochs) and enough devices to calibrate one, and the report withholds it otherwise.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.config import NetworkConfig
from opendepin.economics.scenarios import with_network
from opendepin.economics.spec import ScenarioSpec, SectorSpec

FloatArray = NDArray[np.float64]
SECONDS_PER_DAY = 86_400
MAX_CALIBRATED_GROWTH_PER_DAY = 0.05
MIN_FORECAST_EPOCHS = 14
"""Closed epochs needed before the observed growth and demand mean anything."""
MIN_FORECAST_DEVICES = 100
"""Rewarded devices needed before one device's luck stops dominating the averages."""
WAD = 10**18


class LiveDataError(RuntimeError):
    """The data directory cannot be read as a network; the message says what is missing."""


@dataclass(frozen=True)
class ChainFigures:
    """The settlement chain's totals (smallest units; price as an 18-decimal USD wad)."""

    backend: str
    total_supply: int
    total_burned: int
    total_posted: int
    total_claimed: int
    credits_outstanding: int
    price_usd_wad: int
    price_stale: bool
    latest_epoch: int | None


@dataclass(frozen=True)
class LiveData:
    """What the network says: per-epoch rows (in epoch order) from the store, totals from the chain."""

    network: NetworkConfig
    network_found: bool
    store_kind: str
    epochs: pl.DataFrame
    onboarded_at: NDArray[np.int64]
    rejections: dict[str, int]
    chain: ChainFigures | None
    chain_note: str


def read_network(data_dir: Path) -> tuple[NetworkConfig, bool]:
    """The network's own parameters (defaults, and False, when DATA_DIR has no network.toml)."""
    path = data_dir / "network.toml"
    if not path.exists():
        return NetworkConfig(), False
    return NetworkConfig.model_validate(tomllib.loads(path.read_text())), True


def _units(value: Any) -> int:
    return int(value) if value is not None else 0


def epoch_row(
    number: int, start: int, end: int, manifest: Mapping[str, Any], rewarded: int
) -> dict[str, Any]:
    """One epoch's row from its manifest (amounts as exact decimal text)."""
    usage = manifest.get("usage") or {}
    return {
        "number": int(number),
        "start_ts": int(start),
        "end_ts": int(end),
        "emitted_units": str(_units(manifest.get("emitted"))),
        "paid_units": str(_units(manifest.get("paid"))),
        "rewarded_devices": int(rewarded),
        "reports": int(manifest.get("reports", 0)),
        "rejected_reports": int(sum((manifest.get("ingest_rejections") or {}).values())),
        "invalid_reports": int(sum((manifest.get("invalid_by_reason") or {}).values())),
        "usage_credits": int(usage.get("credits", 0)),
        "usage_usd": float(usage.get("value_usd", 0) or 0),
    }


EPOCH_SCHEMA = {
    "number": pl.Int64,
    "start_ts": pl.Int64,
    "end_ts": pl.Int64,
    "emitted_units": pl.Utf8,
    "paid_units": pl.Utf8,
    "rewarded_devices": pl.Int64,
    "reports": pl.Int64,
    "rejected_reports": pl.Int64,
    "invalid_reports": pl.Int64,
    "usage_credits": pl.Int64,
    "usage_usd": pl.Float64,
}


def read_store(
    data_dir: Path, network: NetworkConfig
) -> tuple[pl.DataFrame, NDArray[np.int64], dict[str, int]]:
    """Epoch rows, onboarding times and refused reports by reason, through the store interface."""
    from opendepin.store.factory import open_store

    try:
        store = open_store(network.store, data_dir)
    except Exception as error:  # a missing file, a server that is down: say which
        raise LiveDataError(f"cannot open the store of {data_dir} ({network.store.kind}): {error}") from error
    try:
        rows = []
        first_start: int | None = None
        last_end = 0
        for number in store.epoch_numbers():
            record = store.get_epoch(number)
            if record is None:
                continue
            manifest = record.manifest
            rewarded = manifest.get("rewarded_devices")
            if rewarded is None:
                detail = store.get_epoch_detail(number)
                paid = {
                    device for device, _, _, amount, _ in (detail.device_rewards if detail else ()) if amount
                }
                rewarded = len(paid)
            rows.append(epoch_row(number, record.start, record.end, manifest, int(rewarded)))
            first_start = record.start if first_start is None else first_start
            last_end = record.end
        onboarded = np.array([d.onboarded_at for d in store.devices().values()], dtype=np.int64)
        rejections = store.rejection_counts(first_start, last_end) if first_start is not None else {}
    finally:
        store.close()
    return pl.DataFrame(rows, schema=EPOCH_SCHEMA), onboarded, dict(rejections)


def read_chain(data_dir: Path, network: NetworkConfig) -> tuple[ChainFigures | None, str]:
    """The chain's totals when DATA_DIR has a deployment (else None and why)."""
    chain_dir = data_dir / "chain"
    if network.chain.kind == "none":
        return None, "the network runs without a chain ([chain] kind = none)"
    if not chain_dir.is_dir() or not any(chain_dir.glob("deployment-*.json")):
        return None, f"no chain deployment in {chain_dir}"
    from opendepin.chain.backend import ChainError
    from opendepin.chain.factory import open_backend

    try:
        with open_backend(data_dir, network.chain, read_only=True) as backend:
            if not backend.is_deployed():
                return None, "the chain in DATA_DIR has no deployed contracts"
            status = backend.status()
            burned = int(backend.read("DataCredits", "total_burned"))
    except ChainError as error:
        return None, f"the chain could not be read: {error}"
    figures = ChainFigures(
        backend=status.backend,
        total_supply=status.total_supply,
        total_burned=burned,
        total_posted=status.total_posted,
        total_claimed=status.total_claimed,
        credits_outstanding=status.credits_supply,
        price_usd_wad=status.price_usd_wad,
        price_stale=status.price_stale,
        latest_epoch=status.latest_epoch,
    )
    return figures, f"{status.backend} chain {status.chain_id}, block {status.block_number}"


def read_live_data(data_dir: Path) -> LiveData:
    """Everything the live report needs from DATA_DIR: its network.toml, store and chain."""
    network, found = read_network(data_dir)
    if network.store.kind == "sqlite" and not (data_dir / network.store.path).exists():
        raise LiveDataError(
            f"{data_dir / network.store.path}: no store here; run `depin up --data-dir {data_dir}` first"
        )
    epochs, onboarded, rejections = read_store(data_dir, network)
    chain, note = read_chain(data_dir, network)
    return LiveData(network, found, network.store.kind, epochs, onboarded, rejections, chain, note)


def _tokens(units: pl.Series | list[str], unit: int) -> FloatArray:
    return np.array([int(x) / unit for x in units], dtype=np.float64)  # exact int ÷ int, then float


def compute_live_metrics(live: LiveData, price_usd: float) -> pl.DataFrame:
    """Per epoch: emitted (the schedule), minted = paid to devices, unminted (no recipient), supply (paid
    so far), devices onboarded and rewarded, reward per rewarded device a day, reports, refusals and the
    usage settled; USD at `price_usd`."""
    epochs = live.epochs
    if epochs.height == 0:
        raise LiveDataError("the store has no closed epoch yet; let the network run at least one epoch")
    unit = 10**live.network.token.decimals
    emitted = _tokens(epochs["emitted_units"], unit)
    paid = _tokens(epochs["paid_units"], unit)
    ends = epochs["end_ts"].to_numpy()
    length_days = (ends - epochs["start_ts"].to_numpy()) / SECONDS_PER_DAY
    rewarded = epochs["rewarded_devices"].to_numpy().astype(np.float64)
    onboarded = np.searchsorted(np.sort(live.onboarded_at), ends, side="right").astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_device = np.where(rewarded > 0, paid / np.maximum(rewarded, 1) / length_days, np.nan)
    previous = np.concatenate([rewarded[:1], rewarded[:-1]])  # no loss counted for the first epoch
    genesis = live.network.epochs.genesis_ts
    return pl.DataFrame(
        {
            "epoch": epochs["number"],
            "day": (ends - genesis) / SECONDS_PER_DAY,
            "epoch_days": length_days,
            "emitted": emitted,
            "minted": paid,
            "unminted": emitted - paid,
            "supply_paid": np.cumsum(paid),
            "incentives_usd": paid * price_usd,
            "usage_credits": epochs["usage_credits"],
            "usage_usd": epochs["usage_usd"],
            "devices_onboarded": onboarded,
            "devices_rewarded": rewarded,
            "devices_lost": np.maximum(previous - rewarded, 0.0),
            "reports": epochs["reports"].to_numpy().astype(np.float64),
            "rejected_reports": epochs["rejected_reports"].to_numpy().astype(np.float64),
            "invalid_reports": epochs["invalid_reports"].to_numpy().astype(np.float64),
            "tokens_per_rewarded_device_per_day": per_device,
            "usd_per_rewarded_device_per_day": per_device * price_usd,
        }
    )


@dataclass(frozen=True)
class LiveTotals:
    """The network to date (whole tokens as floats, for the report; exact units are in LiveData)."""

    epochs: int
    days: float
    emitted: float
    paid: float
    burned: float | None
    burn_mint_ratio: float | None
    supply: float
    posted_matches_paid: bool | None
    price_usd: float
    price_source: str


def compute_totals(live: LiveData, metrics: pl.DataFrame, price_usd: float | None) -> LiveTotals:
    """Totals to date: paid from the store, burned and supply from the chain (when there is one); the
    price is `price_usd` when given, else the chain oracle's."""
    unit = 10**live.network.token.decimals
    paid_units = sum(int(x) for x in live.epochs["paid_units"])
    chain = live.chain
    burned = chain.total_burned / unit if chain is not None else None
    if price_usd is not None:
        price, source = price_usd, "assumed"
    elif chain is not None and chain.price_usd_wad > 0:
        price, source = (
            chain.price_usd_wad / WAD,
            "the chain's oracle" + (" (stale)" if chain.price_stale else ""),
        )
    else:
        price, source = 1.0, "assumed (no price known)"
    posted = None
    if chain is not None and chain.latest_epoch is not None:
        posted_units = sum(
            int(u)
            for n, u in zip(live.epochs["number"], live.epochs["paid_units"], strict=True)
            if n <= chain.latest_epoch
        )
        posted = posted_units == chain.total_posted
    paid = paid_units / unit
    return LiveTotals(
        epochs=metrics.height,
        days=float(metrics["epoch_days"].sum()),
        emitted=float(metrics["emitted"].sum()),
        paid=paid,
        burned=burned,
        burn_mint_ratio=(burned / paid if burned is not None and paid > 0 else None),
        supply=chain.total_supply / unit if chain is not None else paid,
        posted_matches_paid=posted,
        price_usd=price,
        price_source=source,
    )


def forecast_readiness(metrics: pl.DataFrame) -> tuple[bool, str]:
    """Whether the network has enough history and devices for a calibrated forecast, and why not."""
    epochs = metrics.height
    devices = int(metrics["devices_rewarded"][-1]) if epochs else 0
    missing = []
    if epochs < MIN_FORECAST_EPOCHS:
        missing.append(f"{epochs} closed epochs (at least {MIN_FORECAST_EPOCHS} needed)")
    if devices < MIN_FORECAST_DEVICES:
        missing.append(f"{devices} rewarded devices (at least {MIN_FORECAST_DEVICES} needed)")
    if not missing:
        return True, f"{epochs} epochs and {devices} rewarded devices"
    return False, "too little data to forecast: " + " and ".join(missing)


def compute_growth_per_day(days: FloatArray, counts: FloatArray) -> float:
    """Log-linear growth rate of a count per day between the first and last epoch with devices (0 if n/a)."""
    keep = counts > 0
    if keep.sum() < 2 or days[keep][-1] <= days[keep][0]:
        return 0.0
    return float(np.log(counts[keep][-1] / counts[keep][0]) / (days[keep][-1] - days[keep][0]))


def observed_demand_usd_per_day(totals: LiveTotals) -> float:
    """USD a day users paid for credits, from the chain's burns at today's price over the network's days."""
    if totals.burned is None or totals.days <= 0:
        return 0.0
    return totals.burned * totals.price_usd / totals.days


@dataclass(frozen=True)
class Calibration:
    """The forecast's starting point and the facts it came from."""

    scenario: ScenarioSpec
    start_day: int
    supply: float
    devices: float
    observed_growth_per_day: float
    used_growth_per_day: float
    demand_usd_per_day: float
    demand_source: str


def calibrate(
    base: ScenarioSpec,
    live: LiveData,
    metrics: pl.DataFrame,
    totals: LiveTotals,
    demand_usd_per_day: float | None = None,
) -> Calibration:
    """A forward scenario: the network's schedule from today's day since genesis, today's supply and
    rewarded devices, their observed growth (capped at 5 % a day), and the demand observed on the chain
    (burns at today's price a day) unless `demand_usd_per_day` is given."""
    scenario = with_network(base, live.network)
    last = metrics.row(metrics.height - 1, named=True)
    start_day = max(0, int(last["day"]))
    devices = float(last["devices_rewarded"])
    observed = compute_growth_per_day(metrics["day"].to_numpy(), metrics["devices_rewarded"].to_numpy())
    used = float(np.clip(observed, 0.0, MAX_CALIBRATED_GROWTH_PER_DAY))
    if demand_usd_per_day is None:
        demand = observed_demand_usd_per_day(totals)
        source = "observed: the chain's burns at today's price, per day of the network"
    else:
        demand, source = demand_usd_per_day, "assumed on the command line"
    sectors = [
        SectorSpec(**{**scenario.sectors[0].model_dump(), "initial_usd_per_day": demand}),
        *scenario.sectors[1:],
    ]
    device_types = list(scenario.devices)
    if device_types:
        first = device_types[0].model_copy(update={"initial": devices, "organic_growth_per_day": used})
        device_types = [first, *(d.model_copy(update={"initial": 0.0}) for d in device_types[1:])]
    token = scenario.token.model_copy(update={"initial_supply": max(totals.supply, 1.0)})
    forecast = ScenarioSpec.model_validate(
        {
            **scenario.model_dump(),
            "name": f"{live.network.name}-forecast",
            "description": f"Forecast of {live.network.name} from its store and chain (day {start_day}).",
            "start_day": start_day,
            "token": token.model_dump(),
            "price": {**scenario.price.model_dump(), "initial": totals.price_usd},
            "sectors": [s.model_dump() for s in sectors],
            "devices": [d.model_dump() for d in device_types],
            "sweep": None,
        }
    )
    return Calibration(forecast, start_day, totals.supply, devices, observed, used, demand, source)
