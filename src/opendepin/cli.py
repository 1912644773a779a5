"""The `depin` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from opendepin.chain.backend import ChainError
from opendepin.chain.cli import chain_app, claim_command, credits_app
from opendepin.commands import mount_commands
from opendepin.config import ConfigError, load_config
from opendepin.economics.cli import app as economics_app
from opendepin.simulate.cli import app as simulate_app
from opendepin.wallet_cli import wallet_app

app = typer.Typer(
    help="opendepin: run a DePIN network — identity, signed reports, verification, rewards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
epoch_app = typer.Typer(help="Closed epochs: manifests, proofs, recomputation.", no_args_is_help=True)
app.add_typer(epoch_app, name="epoch")
app.add_typer(economics_app, name="economics", help="Token economics: simulator and sustainability report.")
app.add_typer(simulate_app, name="simulate", help="Headless adversary scenarios (wireless PoC).")
app.add_typer(chain_app, name="chain", help="Contracts on the settlement chain: deploy, status, price.")
app.add_typer(credits_app, name="credits", help="Data credits: buy them by burning tokens.")
app.command("claim", help="Claim every reward an owner is owed on chain.")(claim_command)
app.add_typer(wallet_app, name="wallet", help="Encrypted keys: new, import, list, balance.")
mount_commands(app)  # commands of installed packages (sectors' agents and clients), by entry point
err = Console(stderr=True)
out = Console()

DataDir = Annotated[Path, typer.Option("--data-dir", help="where the network keeps its state")]
DEFAULT_DATA_DIR = Path(".depin")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="directory to write network.toml into")],
    force: Annotated[bool, typer.Option(help="overwrite an existing network.toml")] = False,
) -> None:
    """Write a commented default network.toml into DIRECTORY."""
    from opendepin.template import write_template

    try:
        path = write_template(directory, overwrite=force)
    except ConfigError as error:
        _fail(str(error))
    out.print(f"wrote {path}")


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="a network.toml")]) -> None:
    """Validate a network.toml; errors name the key and what is allowed."""
    if path.is_dir():
        _fail(f"{path} is a directory; give the network.toml file itself (e.g. {path / 'network.toml'})")
    from opendepin.sectors.registry import load_sectors

    try:
        config = load_config(path)
        load_sectors(config)
    except ConfigError as error:
        _fail(str(error))
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")
    out.print(f"ok: network {config.name!r}, sectors {config.enabled_sectors}")


def _epoch_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="epochs", show_lines=False)
    for column in (
        "epoch",
        "accepted",
        "rejected (by reason)",
        "invalid (by reason)",
        "rewarded",
        "emitted",
        "root",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["number"]),
            str(row["accepted"]),
            ", ".join(f"{k} {v}" for k, v in row["rejected"].items()) or "-",
            ", ".join(f"{k} {v}" for k, v in row["invalid"].items()) or "-",
            str(row["rewarded_devices"]),
            f"{int(row['emitted']) / 10**18:,.2f}",
            (row["root"] or "-")[:18] + "…",
        )
    return table


@app.command()
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    epochs: Annotated[int, typer.Option(min=1, help="epochs to run, then exit")] = 3,
    devices: Annotated[
        int | None, typer.Option(min=1, help="simulated devices (default 60; a restart keeps its fleet)")
    ] = None,
    owners: Annotated[int, typer.Option(min=0, help="owner wallets (0: devices/3)")] = 0,
    seed: Annotated[int, typer.Option(help="fleet seed")] = 7,
    region: Annotated[str, typer.Option(help="city the fleet stands in")] = "berlin",
    misbehaving: Annotated[float, typer.Option(min=0, max=1, help="share of misbehaving devices")] = 0.15,
    fresh: Annotated[bool, typer.Option(help="delete the data dir first")] = False,
    network: Annotated[
        Path | None, typer.Option(help="network.toml for a new data dir (default: the commented template)")
    ] = None,
    chain: Annotated[str | None, typer.Option(help="embedded | rpc | none (default: network.toml)")] = None,
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
) -> None:
    """Run a local network end to end: node + fleet on a simulated clock, K epochs, rewards and roots."""
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
    with Progress(
        TextColumn("[bold]simulated hours"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as bar:
        task = bar.add_task("hours", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def on_epoch(summary: EpochSummary) -> None:
            rows.append(summary.to_json())
            if not as_json:
                bar.console.print(
                    f"epoch {summary.number}: accepted {summary.accepted}, "
                    f"rejected {sum(summary.rejected.values())} "
                    f"{summary.rejected}, rewarded {summary.rewarded_devices} devices, emitted "
                    f"{summary.emitted / 10**18:,.2f}, root {summary.root}"
                )

        try:
            result = run_network(options, on_epoch=on_epoch, progress=on_progress)
        except (ConfigError, ChainError) as error:
            _fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        out.print(_epoch_table(rows))


def _open_node(data_dir: Path) -> Any:
    from opendepin.clock import SystemClock
    from opendepin.node import Node
    from opendepin.store.factory import open_store

    try:
        config = load_config(data_dir / "network.toml")
    except ConfigError as error:
        _fail(f"{error}\n(is {data_dir} a network's data dir? run `depin up --data-dir {data_dir}` first)")
    store = open_store(config.store, data_dir)
    return Node(config, store, SystemClock())


@epoch_app.command("show")
def epoch_show(
    number: Annotated[int, typer.Argument(min=0, max=2**63 - 1)],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print epoch NUMBER's manifest (with every leaf in --json)."""
    node = _open_node(data_dir)
    record = node.store.get_epoch(number)
    if record is None:
        _fail(f"epoch {number} is not closed in {data_dir}")
    if as_json:
        sys.stdout.write(json.dumps(record.manifest, indent=2) + "\n")
        return
    manifest = record.manifest
    for key in (
        "number",
        "start",
        "end",
        "root",
        "emitted",
        "paid",
        "remainder",
        "totals",
        "inputs_digest",
        "params_digest",
        "engine_version",
        "leaf_count",
        "rewarded_devices",
    ):
        out.print(f"[bold]{key}[/bold]: {manifest.get(key)}")


@epoch_app.command("proof")
def epoch_proof(
    number: Annotated[int, typer.Argument(min=0, max=2**63 - 1)],
    address: str,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Print the Merkle proof of ADDRESS's cumulative reward in epoch NUMBER (JSON)."""
    from opendepin.identity.wallets import normalize_address
    from opendepin.rewards.proofs import ProofError
    from opendepin.services.proofs import proof_for

    try:
        normalize_address(address)
    except ValueError:
        _fail(f"{address!r} is not an address: give an owner's 0x-prefixed 20-byte EVM address")
    node = _open_node(data_dir)
    try:
        proof = proof_for(node.store, number, address)
    except ProofError as error:
        _fail(f"{error.reason}: {error}")
    sys.stdout.write(json.dumps(proof, indent=2) + "\n")


@epoch_app.command("export")
def epoch_export(
    number: int,
    out_path: Annotated[Path, typer.Option("--out", help="file to write the bundle to")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Write closed epoch NUMBER as one self-contained bundle (docs/epoch-bundle.md)."""
    from opendepin.rewards.bundle import bundle_sha256

    node = _open_node(data_dir)
    try:
        data = node.export_epoch(number)
    except KeyError:
        _fail(f"epoch {number} is not closed in {data_dir}")
    if out_path.is_dir():
        _fail(f"{out_path} is a directory; give a file name")
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out_path)
    out.print(f"wrote {out_path}: epoch {number}, {len(data):,} bytes, sha256 {bundle_sha256(data)}")


def _print_audit(report: Any, source: str) -> None:
    from opendepin.rewards.audit import MAX_SHOWN

    for note in report.notes:
        err.print(f"[yellow]note[/yellow]: {note}")
    if report.matches:
        out.print(
            f"match: epoch {report.epoch} recomputed bit for bit from {report.reports} signed reports in "
            f"{source} (root {report.root})"
        )
        return
    if report.input_problems:
        out.print(f"[red]mismatch[/red]: {len(report.input_problems)} problems with the inputs of {source}")
        for problem in report.input_problems[:MAX_SHOWN]:
            out.print(f"  {problem}")
    if report.differences:
        tables = sorted({d.table for d in report.differences})
        out.print(
            f"[red]mismatch[/red]: epoch {report.epoch} differs from its recomputation in "
            f"{len(report.differences)} rows of {', '.join(tables)}"
        )
        for difference in report.differences[:MAX_SHOWN]:
            out.print(f"  {difference.describe()}")
    raise typer.Exit(1)


def _check_chain_root(
    data_dir: Path | None, chain: str | None, rpc_url: str | None, number: int, root: str | None
) -> None:
    """Compare the root posted on chain for epoch `number` with the recomputed one."""
    from opendepin.chain.factory import open_backend
    from opendepin.config import ChainConfig

    base = data_dir if data_dir is not None else Path.cwd()
    chain_config = ChainConfig()
    if data_dir is not None and (data_dir / "network.toml").exists():
        chain_config = load_config(data_dir / "network.toml").chain
    try:
        backend = open_backend(base, chain_config, kind=chain, rpc_url=rpc_url)
        try:
            posted = backend.epoch_root(number)
        finally:
            backend.close()
    except ChainError as error:
        _fail(f"cannot read the chain: {error}")
    posted_hex = "0x" + posted.hex() if posted is not None else None
    if posted_hex != root:
        out.print(
            f"[red]mismatch[/red]: the chain holds root {posted_hex} for epoch {number}, recomputed {root}"
        )
        raise typer.Exit(1)
    out.print(f"match: the root posted on chain for epoch {number} is the recomputed one")


@epoch_app.command("verify")
def epoch_verify(
    number: Annotated[int | None, typer.Argument(help="epoch to recompute from the data dir")] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="recompute from this bundle alone (no store, no node)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="the network's data dir (default ./.depin)")
    ] = None,
    chain: Annotated[
        str | None, typer.Option(help="also check the root posted on chain: embedded | rpc")
    ] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC node for --chain rpc")] = None,
) -> None:
    """Recompute an epoch and compare every published row with the recomputation, bit for bit."""
    from opendepin.rewards.audit import verify_bundle
    from opendepin.rewards.bundle import BundleError, decode_bundle

    if (number is None) == (bundle is None):
        _fail("give an epoch NUMBER (recomputed from the data dir) or --bundle FILE")
    if bundle is not None:
        try:
            decoded = decode_bundle(bundle.read_bytes())
            report = verify_bundle(decoded)
        except OSError as error:
            _fail(f"cannot read {bundle}: {error.strerror or error}")
        except BundleError as error:
            _fail(f"mismatch: {bundle} is not a valid epoch bundle: {error}", code=1)
        _print_audit(report, str(bundle))
        if chain is not None:
            _check_chain_root(data_dir, chain, rpc_url, report.epoch, report.root)
        return
    assert number is not None
    directory = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    node = _open_node(directory)
    try:
        report = node.audit_epoch(number)
    except KeyError:
        _fail(f"epoch {number} is not closed in {directory}")
    _print_audit(report, str(directory))
    if chain is not None:
        _check_chain_root(directory, chain, rpc_url, number, report.root)


@app.command()
def explain(
    device: str,
    epoch: Annotated[int, typer.Option(min=0, max=2**63 - 1)],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Why did DEVICE earn what it earned in EPOCH: every report's verdict and every multiplier."""
    from opendepin.explain import explain_device

    node = _open_node(data_dir)
    try:
        detail = explain_device(node.store, device, epoch)
    except LookupError as error:
        _fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(detail, indent=2) + "\n")
        return
    out.print(
        f"[bold]{device}[/bold] owner {detail['owner']} cell {detail['location']} epoch {epoch}: "
        f"earned {detail['amount'] / 10**18:,.6f}"
    )
    for note in detail["notes"]:
        out.print(f"  note [yellow]{note['reason']}[/yellow] {note['evidence']}")
    for reward in detail["rewards"]:
        out.print(f"  {reward['category']}: units {reward['units']} amount {reward['amount']}")
        for key, value in reward["breakdown"].items():
            out.print(f"    {key}: {value}")
    table = Table("ts", "kind", "verdict", "evidence")
    for report in detail["reports"]:
        table.add_row(
            str(report["ts"]), report["kind"], report["reason"], json.dumps(report["evidence"])[:100]
        )
    out.print(table)


@app.command()
def serve(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    host: str = "127.0.0.1",
    port: int = 8080,
    mqtt: Annotated[
        str | None, typer.Option(help="also ingest from an MQTT broker, e.g. 127.0.0.1:1883")
    ] = None,
    mqtt_prefix: Annotated[
        str, typer.Option(help="topics: PREFIX/reports/#, PREFIX/results/DEVICE")
    ] = "depin",
) -> None:
    """Serve a network's node API on wall-clock time (ingest over HTTP and optionally MQTT, epochs)."""
    import uvicorn

    from opendepin.api.app import create_app
    from opendepin.ingest.mqtt import MqttIngest
    from opendepin.node import EpochProcess
    from opendepin.scheduler import EpochScheduler

    node = _open_node(data_dir)
    node.epoch_process = EpochProcess(data_dir)  # epochs compute in their own process: ingest keeps its core
    scheduler = EpochScheduler(node).start()
    bridge = None
    if mqtt is not None:
        broker, _, broker_port = mqtt.partition(":")
        bridge = MqttIngest(node, broker, int(broker_port or 1883), prefix=mqtt_prefix).start()
        err.print(f"ingesting MQTT from {mqtt} ({mqtt_prefix}/reports/#)")
    try:
        uvicorn.run(create_app(node), host=host, port=port)
    finally:
        scheduler.stop()
        if bridge is not None:
            bridge.stop()


def main() -> None:
    """The `depin` entry point: damaged stored data ends any command with a message, not a traceback."""
    from opendepin.store.errors import StoreCorruption

    try:
        app()
    except StoreCorruption as error:
        err.print(f"[red]error:[/red] the store is damaged: {error}")
        sys.exit(1)
