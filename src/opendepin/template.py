"""The commented default network.toml written by `depin init` (every money constant is here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opendepin.config import ConfigError

TEMPLATE = """\
# opendepin network definition. Every constant that decides money is here; `depin up` reads this file.
# Amounts of tokens are whole tokens here; on chain and in manifests they are integers in the smallest unit.
name = "{name}"

[token]
name = "OpenDePIN Token"
symbol = "ODP"
decimals = 18                 # 0..18
max_supply = 10000000000      # whole tokens; emission stops there

[emission]
# kind = "halving" | "fixed" | "declining"
kind = "halving"
initial_per_year = 60000000   # Helium: 60M/yr in years 1-2, then halving
halving_period_days = 730
# kind = "fixed"      -> per_year = 30000000
# kind = "declining"  -> initial_per_year = 60000000, factor = 0.85, period_days = 364   (DIMO-style)

[epochs]
length_seconds = 86400        # one epoch per day
genesis = {genesis}      # the network's creation time (`depin init`); epoch n starts n x length after
lateness_seconds = 600        # close an epoch only this long after its end (late reports still count)

[rewards]
# Category splits in basis points (sum 10000): coverage 30 %, data transfer 50 %, the rest to operators.
categories = {{ coverage = 3000, data_transfer = 5000, oracles = 700, operations = 700, stakers = 600 }}
device_categories = ["coverage", "data_transfer"]       # paid to devices by sector scores
# Unused device pools flow on (HIP-10: unused data-transfer rewards go back to coverage).
unused_flows_to = {{ data_transfer = {{ coverage = 10000 }} }}
# Non-device categories are paid to these addresses; a category without one stays unminted (remainder).
recipients = {{}}

[rewards.usage]
# Users pay for service with data credits; each sector that meters usage pays its devices from its usage
# category (wireless: data_transfer). With r = value of credits spent / value of the epoch's emission, the
# usage categories get w(r) of the device emission and coverage the rest; w is linear between these
# (r, w) points and flat outside. A device earns from usage at most cap x the value of the credits it carried.
credit_usd = 0.00001          # USD per data credit (Helium's DC)
cap = 1.0
weight = [[0.0, 0.0], [1.0, 0.9]]
reference_price_usd = 1.0     # token price used when the epoch has no oracle price

[shared]
# Report kinds and reward categories several sectors may claim at once (otherwise a config error).
kinds = []
categories = []

[ingest]
max_batch = 1000              # reports per POST /v1/reports
max_report_bytes = 16384
max_past_seconds = 3600       # a report's ts must be within [now - past, now + future]
max_future_seconds = 300
rejections_per_second = 10    # rejected reports a source (client address) may cause, sustained ...
rejection_burst = 5000        # ... and at once; past that POST /v1/reports answers 429 + Retry-After
rate_limited_sources = 100000 # sources the rate limiter remembers at once
device_reports_per_hour = 3600 # accepted reports one device may send an hour, sustained (0: no bound) ...
device_report_burst = 10000   # ... and at once (store-and-forward uploads); past that: device.rate_limited
rejection_bucket_seconds = 3600 # rejections are counted per reason, source and period (not stored one by one)
rejection_samples = 8         # raw rejected reports kept per reason (the latest)
rejection_sample_bytes = 512  # bytes kept of each

[store]
kind = "sqlite"               # "sqlite" (embedded) | "postgres"
path = "depin.sqlite"        # relative to the data dir
dsn = "postgresql://postgres@127.0.0.1:5432/opendepin"

[chain]
kind = "embedded"             # "embedded" (in-process EVM) | "rpc" (any JSON-RPC node) | "none"
rpc_url = "http://127.0.0.1:8545"
confirmations = 1
oracle_threshold = 1          # k of n oracle signatures to post an epoch root
oracle_count = 1
claim_share = 0.5             # share of owners the simulated fleet lets claim each epoch

# Makers whose onboarding attestations are accepted (EVM addresses).
{makers}
[sectors.wireless]
enabled = true
category = "coverage"
usage_category = "data_transfer"  # data sessions paid by routers with data credits ("" meters no usage)
min_heartbeats_per_day = 12   # HIP-74: at least 12 valid hourly heartbeats per day
trust_full_radius_m = 300.0   # HIP-119 location trust: <= 300 m -> 1.0
trust_partial_radius_m = 400.0  # <= 400 m -> trust_partial_multiplier, beyond -> 0 (heartbeat invalid)
trust_partial_multiplier = 0.25
base_points = 1.0
rank_multipliers = [1.0, 0.75, 0.25]   # n-th radio asserted in the same res-12 cell
speedtest_window = 6          # average of the latest 6 tests, at least 2
speedtest_min = 2
# speed-test tiers (worst of download / upload / latency decides)
speedtest_tiers = [
  {{ download_mbps = 100, upload_mbps = 10, latency_ms = 50, multiplier = 1.0 }},
  {{ download_mbps = 75, upload_mbps = 8, latency_ms = 60, multiplier = 0.75 }},
  {{ download_mbps = 50, upload_mbps = 5, latency_ms = 75, multiplier = 0.5 }},
  {{ download_mbps = 30, upload_mbps = 2, latency_ms = 100, multiplier = 0.25 }},
]
"""


DEFAULT_GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
"""The genesis of the template's defaults (`depin up`'s simulated networks start there)."""


def creation_genesis(now: datetime | None = None) -> datetime:
    """A new network's genesis: its creation time (UTC, to the whole minute, toward the past), so `depin
    serve` on it has no backlog of empty epochs to close."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def render_template(
    name: str = "opendepin-local", makers: dict[str, str] | None = None, genesis: datetime = DEFAULT_GENESIS
) -> str:
    lines = []
    for maker_name, address in (makers or {}).items():
        lines.append(f'[[makers]]\nname = "{maker_name}"\naddress = "{address}"\n')
    return TEMPLATE.format(
        name=name, makers="\n".join(lines), genesis=genesis.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def write_template(
    directory: Path,
    makers: dict[str, str] | None = None,
    overwrite: bool = False,
    genesis: datetime | None = None,
) -> Path:
    """Write DIR/network.toml (refuses to overwrite unless asked); genesis defaults to now
    (`creation_genesis`): a new network starts when it is created, not at the template's date."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "network.toml"
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; remove it or pass --force")
    path.write_text(render_template(makers=makers, genesis=genesis or creation_genesis()))
    return path
