"""Live data: the same metrics from a running local network's store, and a forecast calibrated on it.

Reads the data dir's SQLite store (`[store] path`) read-only (stdlib sqlite3, `mode=ro`): `epochs`
(manifest JSON with the emitted amount in smallest units), `devices` (onboarding time) and `reports`
(device activity), plus `DATA_DIR/network.toml`. Usage and burns are not in the store yet (data credits
come with the chain work): demand is then zero and the report says so. Amounts are converted to float64
whole tokens for analysis only.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.config import NetworkConfig
from opendepin.economics.scenarios import with_network
from opendepin.economics.spec import ScenarioSpec, SectorSpec

FloatArray = NDArray[np.float64]
SECONDS_PER_DAY = 86_400
MAX_CALIBRATED_GROWTH_PER_DAY = 0.05
USAGE_TABLES = ("usage", "burns", "credit_burns", "data_credits")


class LiveDataError(RuntimeError):
    """The data directory cannot be read as a local network; the message says what is missing."""


@dataclass(frozen=True)
class LiveData:
    """What the store says, per epoch (rows in epoch order)."""

    network: NetworkConfig
    network_found: bool
    epochs: pl.DataFrame
    onboarded_at: NDArray[np.int64]
    usage_table: str | None


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open the SQLite store without any chance of writing to it."""
    if not path.exists():
        raise LiveDataError(f"{path}: no store here; run `depin up --data-dir {path.parent}` first")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def read_network(data_dir: Path) -> tuple[NetworkConfig, bool]:
    """The network's own parameters (defaults, and False, when DATA_DIR has no network.toml)."""
    path = data_dir / "network.toml"
    if not path.exists():
        return NetworkConfig(), False
    return NetworkConfig.model_validate(tomllib.loads(path.read_text())), True


def _table_names(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def is_regular(epochs: list[tuple[int, int, int, str]]) -> bool:
    """Epochs numbered consecutively, back to back, all of one length (the network's epoch clock)."""
    if not epochs:
        return False
    length = epochs[0][2] - epochs[0][1]
    return length > 0 and all(
        (n - epochs[0][0], start, end - start) == (k, epochs[0][1] + k * length, length)
        for k, (n, start, end, _) in enumerate(epochs)
    )


def count_activity(
    db: sqlite3.Connection, epochs: list[tuple[int, int, int, str]]
) -> dict[int, tuple[int, int]]:
    """Distinct reporting devices and reports per epoch number: one scan of `reports` grouped by epoch
    when the epochs are regular, else one range query per epoch."""
    if is_regular(epochs):
        first, start, end, _ = epochs[0]
        length = end - start
        rows = db.execute(
            "SELECT (ts - ?) / ? AS k, COUNT(DISTINCT device_id), COUNT(*) FROM reports "
            "WHERE ts >= ? AND ts < ? GROUP BY k",
            (start, length, start, start + length * len(epochs)),
        ).fetchall()
        return {first + int(k): (int(active), int(count)) for k, active, count in rows}
    query = "SELECT COUNT(DISTINCT device_id), COUNT(*) FROM reports WHERE ts >= ? AND ts < ?"
    return {n: db.execute(query, (start, end)).fetchone() for n, start, end, _ in epochs}


def read_epochs(db: sqlite3.Connection) -> pl.DataFrame:
    """number, start_ts, end_ts, emitted (smallest units, as text: exact), active devices, reports."""
    epochs = db.execute("SELECT number, start_ts, end_ts, manifest FROM epochs ORDER BY number").fetchall()
    activity = count_activity(db, epochs)
    records = []
    for number, start, end, manifest in epochs:
        data = json.loads(manifest) if manifest else {}
        active, reports = activity.get(number, (0, 0))
        records.append(
            {
                "number": int(number),
                "start_ts": int(start),
                "end_ts": int(end),
                "emitted_units": str(int(data.get("emitted", 0))),
                "active_devices": int(active),
                "reports": int(reports),
            }
        )
    schema = {
        "number": pl.Int64,
        "start_ts": pl.Int64,
        "end_ts": pl.Int64,
        "emitted_units": pl.Utf8,
        "active_devices": pl.Int64,
        "reports": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema)


def read_live_data(data_dir: Path) -> LiveData:
    """Everything the live report needs from DATA_DIR."""
    network, found = read_network(data_dir)
    store_path = data_dir / network.store.path
    with connect_read_only(store_path) as db:
        tables = _table_names(db)
        missing = {"epochs", "devices", "reports"} - tables
        if missing:
            raise LiveDataError(f"{store_path} has no table(s) {sorted(missing)}: not a network store")
        epochs = read_epochs(db)
        onboarded = np.array(
            [row[0] for row in db.execute("SELECT onboarded_at FROM devices")], dtype=np.int64
        )
        usage = next((name for name in USAGE_TABLES if name in tables), None)
    return LiveData(network, found, epochs, onboarded, usage)


def compute_live_metrics(live: LiveData, price_usd: float) -> pl.DataFrame:
    """Per epoch: minted, burned (0 without usage data), supply, net emissions, burn/mint, USD revenue and
    incentives (at the assumed price), devices onboarded and active, churn, rewards per active device."""
    epochs = live.epochs
    if epochs.height == 0:
        raise LiveDataError("the store has no closed epoch yet; let the network run at least one epoch")
    unit = 10**live.network.token.decimals
    minted = np.array([int(x) / unit for x in epochs["emitted_units"]], dtype=np.float64)  # exact int ÷ int
    ends = epochs["end_ts"].to_numpy()
    length_days = (ends - epochs["start_ts"].to_numpy()) / SECONDS_PER_DAY
    burned = np.zeros_like(minted)
    active = epochs["active_devices"].to_numpy().astype(np.float64)
    onboarded = np.searchsorted(np.sort(live.onboarded_at), ends, side="left").astype(np.float64)
    share = sum(live.network.rewards.categories[c] for c in live.network.rewards.device_categories) / 10_000
    with np.errstate(divide="ignore", invalid="ignore"):
        per_device = np.where(active > 0, share * minted / np.maximum(active, 1) / length_days, np.nan)
    previous = np.concatenate([active[:1], active[:-1]])  # no loss counted for the first epoch
    genesis = live.network.epochs.genesis_ts
    return pl.DataFrame(
        {
            "epoch": epochs["number"],
            "day": (ends - genesis) / SECONDS_PER_DAY,
            "epoch_days": length_days,
            "minted": minted,
            "burned": burned,
            "supply": np.cumsum(minted - burned),
            "net_emissions": minted - burned,
            "burn_mint_ratio": np.zeros_like(minted),
            "revenue_usd": np.zeros_like(minted),
            "incentives_usd": minted * price_usd,
            "devices_onboarded": onboarded,
            "devices_active": active,
            "devices_lost": np.maximum(previous - active, 0.0),
            "reports": epochs["reports"].to_numpy().astype(np.float64),
            "tokens_per_active_device_per_day": per_device,
            "usd_per_active_device_per_day": per_device * price_usd,
        }
    )


def compute_growth_per_day(days: FloatArray, counts: FloatArray) -> float:
    """Log-linear growth rate of a count per day between the first and last epoch with devices (0 if n/a)."""
    keep = counts > 0
    if keep.sum() < 2 or days[keep][-1] <= days[keep][0]:
        return 0.0
    return float(np.log(counts[keep][-1] / counts[keep][0]) / (days[keep][-1] - days[keep][0]))


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


def calibrate(
    base: ScenarioSpec, live: LiveData, metrics: pl.DataFrame, demand_usd_per_day: float = 0.0
) -> Calibration:
    """A forward scenario: the network's schedule from today's day since genesis, today's supply and device
    count, the observed device growth (capped at 5 % a day) and the observed demand (zero without data)."""
    scenario = with_network(base, live.network)
    last = metrics.row(metrics.height - 1, named=True)
    start_day = max(0, int(last["day"]))
    supply = float(metrics["supply"][-1])
    devices = float(max(last["devices_active"], last["devices_onboarded"]))
    observed = compute_growth_per_day(metrics["day"].to_numpy(), metrics["devices_onboarded"].to_numpy())
    used = float(np.clip(observed, 0.0, MAX_CALIBRATED_GROWTH_PER_DAY))
    sectors = [
        SectorSpec(**{**scenario.sectors[0].model_dump(), "initial_usd_per_day": demand_usd_per_day}),
        *scenario.sectors[1:],
    ]
    device_types = list(scenario.devices)
    if device_types:
        first = device_types[0].model_copy(update={"initial": devices, "organic_growth_per_day": used})
        device_types = [first, *(d.model_copy(update={"initial": 0.0}) for d in device_types[1:])]
    token = scenario.token.model_copy(update={"initial_supply": supply})
    forecast = ScenarioSpec.model_validate(
        {
            **scenario.model_dump(),
            "name": f"{live.network.name}-forecast",
            "description": f"Forecast of {live.network.name} from its store (day {start_day} since genesis).",
            "start_day": start_day,
            "token": token.model_dump(),
            "sectors": [s.model_dump() for s in sectors],
            "devices": [d.model_dump() for d in device_types],
            "sweep": None,
        }
    )
    return Calibration(forecast, start_day, supply, devices, observed, used, demand_usd_per_day)
