"""`depin init`, `depin check-config`, `depin up`, `depin serve`: make, check, run and serve a network."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from opendepin.cli.common import DEFAULT_DATA_DIR, DataDir, Raw, err, fail, load_network, out
from opendepin.cli.output import code_column, format_counts, format_tokens, print_table

if TYPE_CHECKING:
    from opendepin.config import NetworkConfig

app = typer.Typer()

LEGACY_STORE_NAME = "depin.sqlite3"
"""The store's file name in data dirs of older versions; `depin up` links it to the current one."""


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="directory to write network.toml into")],
    force: Annotated[bool, typer.Option(help="overwrite an existing network.toml")] = False,
) -> None:
    """Write a commented default network.toml into DIRECTORY."""
    from opendepin.config import ConfigError
    from opendepin.template import write_template

    try:
        path = write_template(directory, overwrite=force)
    except ConfigError as error:
        fail(str(error))
    out.print(f"wrote {path}")


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="a network.toml")]) -> None:
    """Validate a network.toml; errors name the key and what is allowed."""
    from opendepin.config import ConfigError, load_config
    from opendepin.sectors.registry import load_sectors

    if path.is_dir():
        fail(f"{path} is a directory; give the network.toml file itself (e.g. {path / 'network.toml'})")
    try:
        config = load_config(path)
        load_sectors(config)
    except ConfigError as error:
        fail(str(error))
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")
    out.print(f"ok: network {config.name!r}, sectors {config.enabled_sectors}")


def epoch_table(rows: list[dict[str, Any]], config: NetworkConfig, raw: bool = False) -> Table:
    """One row per epoch: reports accepted and refused, devices rewarded, tokens emitted and paid, root."""
    token = config.token
    table = Table(title="epochs (numbered from 0)")
    for column in ("epoch", "accepted", "rejected", "invalid", "rewarded", "emitted", "paid"):
        table.add_column(column, justify="right" if column != "epoch" else "left", no_wrap=True)
    table.add_column("root", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["number"]),
            f"{row['accepted']:,}",
            f"{sum(row['rejected'].values()):,}",
            f"{sum(row['invalid'].values()):,}",
            f"{row['rewarded_devices']:,}",
            format_tokens(int(row["emitted"]), token.decimals, token.symbol, raw=raw),
            format_tokens(int(row["paid"]), token.decimals, token.symbol, raw=raw),
            (row["root"] or "-")[:12] + ("…" if row["root"] else ""),
        )
    return table


def reason_table(rows: list[dict[str, Any]]) -> Table:
    """Refused reports (ingest) and invalid verdicts (rules) by reason code, one column per epoch."""
    table = Table(title="why reports were refused (ingest) or found invalid (rules), per epoch")
    code_column(table, "reason")
    table.add_column("where", no_wrap=True)
    for row in rows:
        table.add_column(f"epoch {row['number']}", justify="right", no_wrap=True)
    for where, key in (("ingest", "rejected"), ("rules", "invalid")):
        for reason in sorted({r for row in rows for r in row[key]}):
            table.add_row(reason, where, *(f"{row[key].get(reason, 0):,}" for row in rows))
    return table


def epoch_line(summary: dict[str, Any], config: NetworkConfig, raw: bool = False) -> str:
    """One epoch of `depin up` in a sentence."""
    token = config.token
    rejected = summary["rejected"]
    return (
        f"epoch {summary['number']}: accepted {summary['accepted']:,} reports, refused "
        f"{sum(rejected.values()):,} ({format_counts(rejected)}), rewarded {summary['rewarded_devices']} "
        f"devices, emitted {format_tokens(int(summary['emitted']), token.decimals, token.symbol, raw=raw)}, "
        f"root {summary['root'] or '-'}"
    )


def link_legacy_store(data_dir: Path, config: NetworkConfig) -> None:
    """Compatibility for tools that open the store under its old name: in a data dir using the default
    SQLite file, `depin.sqlite3` is a relative symbolic link to `depin.sqlite`."""
    from opendepin.config import StoreConfig

    default = StoreConfig()
    if config.store.kind != "sqlite" or config.store.path != default.path:
        return
    legacy = data_dir / LEGACY_STORE_NAME
    if not legacy.exists() and not legacy.is_symlink() and (data_dir / default.path).exists():
        legacy.symlink_to(default.path)


def save_owner_keys(data_dir: Path) -> list[str]:
    """Put the simulated fleet's owner keys in the data dir's keystore as `owner-<i>` (i as in fleet.json's
    `owner_index`), so `depin claim --owner owner-3` and `depin credits buy --buyer owner-3` find them;
    returns the names added. The keys stay encrypted under the keystore's password, as the fleet secret
    they derive from does in fleet.json."""
    from opendepin.fleet.simulator import SECP256K1_ORDER, compute_fleet_key, read_fleet_secret
    from opendepin.identity.keystore import data_dir_keystore, data_dir_password

    fleet_path = data_dir / "fleet.json"
    if not fleet_path.exists():
        return []
    owners = int(json.loads(fleet_path.read_text())["spec"]["owners"])
    keystore = data_dir_keystore(data_dir)
    missing = [i for i in range(max(1, owners)) if f"owner-{i}" not in keystore]
    if not missing:
        return []
    password = data_dir_password(data_dir)
    secret = read_fleet_secret(fleet_path, password)
    for index in missing:
        keystore.save(
            f"owner-{index}", compute_fleet_key(secret, f"owner:{index}", SECP256K1_ORDER), password
        )
    return [f"owner-{i}" for i in missing]


@app.command()
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    epochs: Annotated[
        int, typer.Option(min=1, help="epochs to run, then exit (epochs are numbered from 0)")
    ] = 3,
    devices: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="fleet size of a new data dir (default 60); on a restart the fleet is kept, and a larger "
            "N adds devices up to N",
        ),
    ] = None,
    owners: Annotated[int, typer.Option(min=0, help="owner wallets of a new fleet (0: devices/3)")] = 0,
    seed: Annotated[int, typer.Option(help="fleet seed (positions, owners, behaviours)")] = 7,
    region: Annotated[str, typer.Option(help="city the fleet stands in")] = "berlin",
    misbehaving: Annotated[float, typer.Option(min=0, max=1, help="share of misbehaving devices")] = 0.15,
    fresh: Annotated[bool, typer.Option(help="delete the data dir first (only one `depin up` made)")] = False,
    network: Annotated[
        Path | None, typer.Option(help="network.toml for a new data dir (default: the commented template)")
    ] = None,
    chain: Annotated[str | None, typer.Option(help="embedded | rpc | none (default: network.toml's)")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC node for --chain rpc")] = None,
    usage_growth: Annotated[
        float,
        typer.Option(
            min=0,
            help="simulated users buy data sessions worth this share of the emission more each epoch "
            "(0.5: 0, 0.5, 1, 1.5 × the emission; needs a chain)",
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary object on stdout")] = False,
    raw: Raw = False,
    explore: Annotated[
        bool,
        typer.Option(
            "--explore", help="after the last epoch keep serving: print the explorer's URL (Ctrl-C stops)"
        ),
    ] = False,
) -> None:
    """Run a local network end to end: node + fleet on a simulated clock, K epochs, rewards and roots.

    State stays in the data dir: a second run continues with the next epoch. The fleet's owner keys are
    put in <data dir>/keystore as owner-0, owner-1, … (see `depin wallet list`).
    """
    from opendepin.chain.backend import ChainError
    from opendepin.config import ConfigError, load_config
    from opendepin.up import EpochSummary, UpOptions, run_network

    rows: list[dict[str, Any]] = []
    options = UpOptions(
        data_dir=data_dir,
        epochs=epochs,
        devices=devices,
        owners=owners,
        seed=seed,
        region=region,
        misbehaving_share=misbehaving,
        fresh=fresh,
        network=network,
        chain=chain,
        rpc_url=rpc_url,
        usage_growth=usage_growth,
    )
    preparing = "starting: fleet, node, contracts, onboarding"
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hours"),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as bar:
        task = bar.add_task(preparing, total=None)
        closed: list[int] = []

        def on_progress(done: int, total: int) -> None:
            per_epoch = max(1, total // epochs)
            if done >= total:
                text = "closing the last epoch: rules, rewards, root, chain"
            else:
                text = f"epoch {done // per_epoch + 1} of {epochs}: devices send reports"
            bar.update(task, completed=done, total=total, description=text)

        def on_epoch(summary: EpochSummary) -> None:
            rows.append(summary.to_json())
            closed.append(summary.number)
            if not as_json:
                config = load_config(data_dir / "network.toml")
                bar.console.print(epoch_line(summary.to_json(), config, raw))

        def on_explore(url: str) -> None:
            bar.stop()
            err.print(f"explorer: {url}/  (API documents: {url}/docs) - serving until Ctrl-C")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                err.print("stopped serving")

        try:
            result = run_network(
                options, on_epoch=on_epoch, progress=on_progress, explore=on_explore if explore else None
            )
        except (ConfigError, ChainError) as error:
            fail(str(error))
    config = load_config(data_dir / "network.toml")
    link_legacy_store(data_dir, config)
    save_owner_keys(data_dir)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    print_table(out, epoch_table(rows, config, raw))
    if any(row["rejected"] or row["invalid"] for row in rows):
        print_table(out, reason_table(rows))
    out.print(
        f"amounts in {config.token.symbol} ({'base units' if raw else 'tokens, 6 decimals shown'}); next: "
        f"`depin devices list --data-dir {data_dir}`, `depin explain DEVICE --epoch N --data-dir {data_dir}`"
    )


@app.command()
def serve(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    host: Annotated[str | None, typer.Option(help="address to listen on [remembered; 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port to listen on [remembered; 8080]")] = None,
    mqtt: Annotated[
        str | None, typer.Option(help="also ingest from an MQTT broker, e.g. 127.0.0.1:1883 [remembered]")
    ] = None,
    mqtt_prefix: Annotated[
        str | None, typer.Option(help="topics: PREFIX/reports/#, PREFIX/results/DEVICE [remembered; depin]")
    ] = None,
    chain: Annotated[
        str | None, typer.Option(help="embedded | rpc | none [remembered; network.toml's [chain] kind]")
    ] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC node for --chain rpc [remembered]")] = None,
    bus: Annotated[
        str | None,
        typer.Option(help="direct (gate here) | nats (JetStream to `depin ingest-worker`s) [remembered]"),
    ] = None,
    nats_url: Annotated[str | None, typer.Option(help="NATS server for --bus nats [remembered]")] = None,
    workers: Annotated[
        int | None, typer.Option(help="gate workers started beside the node with --bus nats [remembered; 2]")
    ] = None,
    catch_up: Annotated[
        bool, typer.Option("--catch-up", help="close every epoch that ended while no node ran (logged)")
    ] = False,
) -> None:
    """Serve a network's node on wall-clock time: ingest over HTTP (and MQTT), close epochs, settle them on
    the chain, /metrics. Flags given are remembered by the data dir (serve.json) for the next start."""
    import logging

    from opendepin.server import SETTINGS_FILE, BacklogRefused, ServeSettings, serve_node

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_network(data_dir)
    given = {
        "host": host,
        "port": port,
        "mqtt": mqtt,
        "mqtt_prefix": mqtt_prefix,
        "chain": chain,
        "rpc_url": rpc_url,
        "bus": bus,
        "nats_url": nats_url,
        "workers": workers,
    }
    try:
        settings = ServeSettings.load(data_dir).merged(given)
    except ValueError as error:
        fail(str(error))
    problems = settings.problems()
    if problems:
        fail(
            "; ".join(
                problem
                if given.get(setting) is not None
                else f"{problem} (remembered in {data_dir / SETTINGS_FILE}; give the flag to replace it)"
                for setting, problem in problems.items()
            )
        )
    try:
        serve_node(data_dir, settings, catch_up=catch_up)
    except (BacklogRefused, ValueError) as error:
        fail(str(error))
