"""`depin up`: a whole local network in one process — node (HTTP ingest, verifier, epoch scheduler) and
the fleet, on a simulated clock that runs hours in milliseconds. State lives in the data dir, so a
restart continues where it stopped.

The fleet's devices belong to the network's sectors that have a simulation; each hour, at its end, the
fleet asks every sector's simulation what its devices send (reading what they need from the node over HTTP,
such as the wireless entropy route), signs and sends it. On a chain, the node takes its entropy, price and
credit balances from it; `EpochSettler` posts every epoch and the fleet's chain actors (maker, owners,
price feeder; `fleet/chain_actors.py`) register devices, keep the price fresh and claim."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx

from opendepin.chain.backend import ChainBackend
from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.factory import open_backend
from opendepin.chain.rpc import RpcBackend
from opendepin.clock import SimulatedClock
from opendepin.config import ConfigError, NetworkConfig, load_config
from opendepin.explorer.chain import BackendChainView
from opendepin.fleet.chain_actors import ChainActors
from opendepin.fleet.market import TreasuryAccounts, UsageMarket
from opendepin.fleet.services import NodeServices
from opendepin.fleet.simulator import Fleet, FleetSpec, fleet_maker, read_fleet_secret
from opendepin.identity.keystore import new_private_key
from opendepin.node import Node
from opendepin.rewards.epoch import window_for
from opendepin.server import SIMULATED_CLOCK_KEY, BackgroundServer
from opendepin.settlement import EpochSettler
from opendepin.store.base import EpochRecord
from opendepin.store.factory import open_store
from opendepin.template import DEFAULT_GENESIS, write_template

FLEET_MAKER_NAME = "opendepin-fleet"
CLOCK_KEY = SIMULATED_CLOCK_KEY
SENT_KEY = "fleet_sent_until"
SETTLED_KEY = "chain_settled_until"
HOUR = 3_600
DEFAULT_DEVICES = 60
OPERATOR_DEV_FUNDS_WEI = 10_000 * 10**18
DATA_DIR_MARKER = ".opendepin-data-dir"
DATA_DIR_MARKER_TEXT = "opendepin data dir: written by `depin up`, which may delete it with --fresh\n"
"""Native coin `depin up` gives its operator on a development node (anvil), to pay for gas."""


@dataclass
class UpOptions:
    data_dir: Path
    epochs: int
    devices: int | None = None
    """Fleet size; None keeps an existing fleet's size (60 for a new one); a larger number grows it."""
    owners: int = 0
    seed: int = 7
    region: str = "berlin"
    misbehaving_share: float = 0.15
    p256_share: float = 0.2
    fresh: bool = False
    batch_size: int = 1_000
    network: Path | None = None
    """A network.toml to start a new data dir with (ignored once the data dir has one)."""
    chain: str | None = None
    """"embedded", "rpc" or "none"; None uses network.toml's [chain] kind."""
    rpc_url: str | None = None
    usage_growth: float = 0.0
    """Users buy data sessions growing by this share of the epoch's emission each epoch (needs a chain)."""


@dataclass
class EpochSummary:
    number: int
    root: str | None
    emitted: int
    paid: int
    accepted: int
    rejected: dict[str, int]
    invalid: dict[str, int]
    rewarded_devices: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "root": self.root,
            "emitted": str(self.emitted),
            "paid": str(self.paid),
            "accepted": self.accepted,
            "rejected": self.rejected,
            "invalid": self.invalid,
            "rewarded_devices": self.rewarded_devices,
            **self.extra,
        }


def is_data_dir(path: Path) -> bool:
    """Rule: a directory is an opendepin data dir if `depin up` marked it (DATA_DIR_MARKER), or, made before
    the marker existed, it holds fleet.json and network.toml and nothing but what `depin up` wrote then
    (the store files `depin.sqlite*`, the `chain` directory)."""
    if (path / DATA_DIR_MARKER).is_file():
        return True
    names = {entry.name for entry in path.iterdir()}
    return {"fleet.json", "network.toml"} <= names and all(
        name in ("fleet.json", "network.toml", "chain") or name.startswith("depin.sqlite") for name in names
    )


def prepare_data_dir(options: UpOptions) -> tuple[NetworkConfig, Fleet]:
    """Create or load the fleet and the network.toml (which must accept the fleet's maker).

    `--fresh` deletes the data dir first, but only one that is an opendepin data dir (`is_data_dir`), empty,
    or absent: any other directory is refused with ConfigError and left untouched."""
    data_dir = options.data_dir
    if options.network is not None and not options.network.is_file():
        raise ConfigError(f"--network {options.network}: not a file; give a network.toml")
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir} is a file, not a directory")
    ours = data_dir.exists() and is_data_dir(data_dir)
    unused = not data_dir.exists() or not any(data_dir.iterdir())
    if options.fresh and data_dir.exists():
        if not (ours or unused):
            raise ConfigError(
                f"--fresh refuses to delete {data_dir}: it is not an opendepin data dir (no "
                f"{DATA_DIR_MARKER} file) and not empty; pick another --data-dir or remove it yourself"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if ours or unused:
        (data_dir / DATA_DIR_MARKER).write_text(DATA_DIR_MARKER_TEXT)
    fleet_path = data_dir / "fleet.json"
    config_path = data_dir / "network.toml"
    secret = None
    if not config_path.exists():
        secret = read_fleet_secret(fleet_path) if fleet_path.exists() else new_private_key()
        if options.network is not None:
            load_config(options.network)  # refuse a bad file before copying it
            shutil.copyfile(options.network, config_path)
        else:
            write_template(
                data_dir, makers={FLEET_MAKER_NAME: fleet_maker(secret).address}, genesis=DEFAULT_GENESIS
            )
    config = load_config(config_path)
    if fleet_path.exists():
        fleet = Fleet.load(fleet_path, network=config)
        if options.devices is not None and options.devices > len(fleet.devices):
            fleet.grow(options.devices)
    else:
        devices = options.devices or DEFAULT_DEVICES
        owners = options.owners or max(1, devices // 3)
        fleet = Fleet.create(
            FleetSpec(
                seed=options.seed,
                region=options.region,
                devices=devices,
                owners=owners,
                misbehaving_share=options.misbehaving_share,
                p256_share=options.p256_share,
            ),
            fleet_secret=secret or new_private_key(),
            network=config,
        )
    fleet.save(fleet_path)
    if not any(m.address.lower() == fleet.maker.address.lower() for m in config.makers):
        # the data dir's network.toml says which makers the network accepts, for every later reader too
        # (`depin serve`, `depin epoch verify`, a bundle's network section): add the fleet's maker to it
        with config_path.open("a") as handle:
            handle.write(f'\n[[makers]]\nname = "{FLEET_MAKER_NAME}"\naddress = "{fleet.maker.address}"\n')
        config = load_config(config_path)
    return config, fleet


def onboard_fleet(client: httpx.Client, config: NetworkConfig, fleet: Fleet) -> int:
    """POST /v1/devices for every device not yet onboarded, except the 'unregistered' ones."""
    count = 0
    for device in fleet.devices:
        if device.onboarded or device.behaviour == "unregistered":
            continue
        response = client.post("/v1/devices", json=fleet.onboarding_request(config.name, device))
        if response.status_code not in (200, 201):
            raise RuntimeError(
                f"onboarding device {device.index} failed: {response.status_code} {response.text}"
            )
        device.onboarded = True
        count += 1
    return count


def send_batches(
    client: httpx.Client, wires: list[bytes], batch_size: int, path: str = "/v1/reports"
) -> tuple[int, int]:
    """POST the signed reports (or receipts, to /v1/usage) in CBOR batches; returns (accepted, rejected)."""
    import cbor2

    accepted = rejected = 0
    for start in range(0, len(wires), batch_size):
        body = cbor2.dumps(wires[start : start + batch_size])
        response = client.post(path, content=body, headers={"content-type": "application/cbor"})
        response.raise_for_status()
        answer = response.json()
        accepted += answer["accepted"]
        rejected += answer["rejected"]
    return accepted, rejected


def summarize(node: Node, record: EpochRecord) -> EpochSummary:
    manifest = record.manifest
    usage = manifest.get("usage", {})
    return EpochSummary(
        number=record.number,
        root=manifest["root"],
        emitted=int(manifest["emitted"]),
        paid=int(manifest["paid"]),
        accepted=node.store.count_reports(record.start, record.end),
        rejected=node.store.rejection_counts(record.start, record.end),
        invalid=dict(manifest.get("invalid_by_reason", {})),
        rewarded_devices=int(manifest["rewarded_devices"]),
        extra={  # the manifest holds the ratio and weight exactly (fractions); shown here to 4 decimals
            "usage_credits": usage.get("credits", 0),
            "usage_ratio": f"{float(Fraction(usage.get('usage_ratio', '0'))):.4f}",
            "usage_weight": f"{float(Fraction(usage.get('usage_weight', '0'))):.4f}",
            "totals": {k: str(v) for k, v in manifest.get("totals", {}).items()},
        },
    )


def hours_of_epoch(config: NetworkConfig, number: int, after: int) -> Iterator[int]:
    window = window_for(config, number)
    for hour in range(window.start, window.end, HOUR):
        if hour >= after:
            yield hour


ProgressHook = Callable[[int, int], None]


@dataclass
class ChainSession:
    """The chain `depin up` settles on: the settler (production) and the fleet's chain actors."""

    backend: ChainBackend
    settler: EpochSettler
    actors: ChainActors
    treasury: int = 0

    def settle(self, node: Node, record: EpochRecord) -> dict[str, Any]:
        """Post the epoch and spend its usage credits, then a fresh price and this epoch's claims."""
        return {**self.settler.settle(record), **self.actors.after_epoch(node, record)}

    def summary(self) -> dict[str, Any]:
        summary = self.settler.summary()
        summary["gas"] = {**summary["gas"], **self.actors.summary()["gas"]}
        summary["treasury"] = str(self.treasury)  # minted to the operator at deployment (smallest units)
        return summary


def treasury_allocation(config: NetworkConfig) -> int:
    """Tokens minted at deployment to the operator as the local network's treasury: the first year's emission
    (smallest units). The operator buys data credits from it (`depin credits buy` without `--buyer`) and the
    simulated users of `--usage-growth` buy their tokens from it."""
    from opendepin.rewards.emissions import SECONDS_PER_YEAR, cumulative_emission

    return int(cumulative_emission(config.emission, config.token, SECONDS_PER_YEAR))


def open_chain(
    options: UpOptions, config: NetworkConfig, clock: SimulatedClock, node: Node, fleet: Fleet
) -> ChainSession | None:
    """The chain backend `depin up` settles on (deployed on first start) with the node wired to it, or
    None for `--chain none`."""
    kind = options.chain or config.chain.kind
    if kind == "none":
        return None
    backend = open_backend(
        options.data_dir, config.chain, kind=kind, rpc_url=options.rpc_url, clock=clock.now
    )
    try:
        if isinstance(backend, RpcBackend):
            backend.fund_operator_on_dev_node(OPERATOR_DEV_FUNDS_WEI)
        ensure_deployed(backend, config, genesis_amount=treasury_allocation(config))
    except BaseException:
        backend.close()
        raise
    node.use_chain(
        block_hash=backend.latest_block_hash,
        price=backend.oracle_price_wad,
        credit_balance=backend.credits_of,
    )
    return ChainSession(
        backend,
        EpochSettler(backend, node.store),
        ChainActors(backend, fleet, config.chain.claim_share),
        treasury_allocation(config),
    )


def settle_pending(
    node: Node,
    chain: ChainSession,
    summaries: list[EpochSummary],
    on_epoch: Callable[[EpochSummary], None] | None,
) -> None:
    """Settle epochs closed before a crash but never settled (posting is idempotent on chain)."""
    settled_until = int(node.store.get_meta(SETTLED_KEY) or 0)
    for number in range(settled_until, node.next_epoch):
        record = node.store.get_epoch(number)
        assert record is not None
        summary = summarize(node, record)
        summary.extra.update(chain.settle(node, record))
        summary.extra["recovered"] = True
        node.store.set_meta(SETTLED_KEY, str(number + 1))
        summaries.append(summary)
        if on_epoch:
            on_epoch(summary)


def run_network(
    options: UpOptions,
    on_epoch: Callable[[EpochSummary], None] | None = None,
    progress: ProgressHook | None = None,
    explore: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run `options.epochs` more epochs; returns the JSON summary. `explore`, when given, is called with the
    node's URL after the last epoch, the node still serving (its explorer reading the chain) until it
    returns (`depin up --explore` waits for Ctrl-C)."""
    config, fleet = prepare_data_dir(options)
    store = open_store(config.store, options.data_dir)
    saved = store.get_meta(CLOCK_KEY)
    clock = SimulatedClock(int(saved) if saved else config.epochs.genesis_ts)
    node = Node(config, store, clock)
    summaries: list[EpochSummary] = []
    chain: ChainSession | None = None
    try:
        chain = open_chain(options, config, clock, node, fleet)
        market = None
        if options.usage_growth > 0:
            if chain is None:
                raise ConfigError("--usage-growth needs a chain: users burn tokens for data credits on it")
            market = UsageMarket(chain.backend, fleet, config, Fraction(str(options.usage_growth)))
        with BackgroundServer(node) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            accounts = TreasuryAccounts(chain.backend, fleet) if chain is not None else None
            services = NodeServices(client, node.current_challenge, accounts)
            onboarded = onboard_fleet(client, config, fleet)
            fleet.save(options.data_dir / "fleet.json")
            if chain is not None:
                chain.actors.register_devices(node)
                settle_pending(node, chain, summaries, on_epoch)
            first = node.next_epoch
            total_hours = options.epochs * (config.epochs.length_seconds // HOUR)
            done_hours = 0
            for number in range(first, first + options.epochs):
                sent_until = int(store.get_meta(SENT_KEY) or 0)
                usage: dict[str, Any] = market.open_epoch(number) if market is not None else {}
                receipts = [0, 0]
                for hour in hours_of_epoch(config, number, after=sent_until):
                    clock.set(max(clock.now(), hour + HOUR - 1))  # an hour's reports leave at its end
                    send_batches(client, fleet.reports_for_hour(hour, services), options.batch_size)
                    if market is not None:
                        answer = send_batches(client, market.hour_receipts(hour), 1_000, "/v1/usage")
                        receipts = [receipts[0] + answer[0], receipts[1] + answer[1]]
                    store.set_meta(CLOCK_KEY, str(clock.now()))
                    store.set_meta(SENT_KEY, str(hour + HOUR))
                    done_hours += 1
                    if progress:
                        progress(done_hours, total_hours)
                window = window_for(config, number)
                clock.set(max(clock.now(), window.end + config.epochs.lateness_seconds))
                for record in node.close_due_epochs():
                    summary = summarize(node, record)
                    if market is not None and record.number == number:
                        summary.extra["users"] = {
                            **usage,
                            "receipts_accepted": receipts[0],
                            "receipts_rejected": receipts[1],
                        }
                    if chain is not None:
                        summary.extra.update(chain.settle(node, record))
                        store.set_meta(SETTLED_KEY, str(record.number + 1))
                    summaries.append(summary)
                    if on_epoch:
                        on_epoch(summary)
                store.set_meta(CLOCK_KEY, str(clock.now()))
            if explore is not None:
                if chain is not None:  # the run no longer uses the backend: the explorer may read it
                    server.app.state.explorer.chain = BackendChainView(chain.backend, chain.backend.kind)
                explore(server.url)
        chain_summary = chain.summary() if chain is not None else {"chain": "none"}
    finally:
        store.close()
        if chain is not None:
            chain.backend.close()
    return {
        **chain_summary,
        "network": config.name,
        "data_dir": str(options.data_dir),
        "devices": len(fleet.devices),
        "owners": len(fleet.owners),
        "onboarded_now": onboarded,
        "behaviours": _behaviour_counts(fleet),
        "epochs": [s.to_json() for s in summaries],
    }


def _behaviour_counts(fleet: Fleet) -> dict[str, int]:
    counts: dict[str, int] = {}
    for device in fleet.devices:
        counts[device.behaviour] = counts.get(device.behaviour, 0) + 1
    return dict(sorted(counts.items()))
