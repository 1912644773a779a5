"""`depin epoch show | proof | export | verify`: closed epochs, their manifests, proofs and recomputation."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from opendepin.cli.common import (
    DEFAULT_DATA_DIR,
    AsJson,
    DataDir,
    Raw,
    err,
    fail,
    load_network,
    open_node,
    out,
)
from opendepin.cli.output import (
    code_column,
    format_duration,
    format_fraction,
    format_time,
    format_tokens,
    print_table,
)

app = typer.Typer(help="Closed epochs: manifests, proofs, recomputation.", no_args_is_help=True)
EpochNumber = Annotated[int, typer.Argument(min=0, max=2**63 - 1, help="epoch number (the first epoch is 0)")]


def manifest_table(manifest: dict[str, Any], symbol: str, decimals: int, raw: bool) -> Table:
    """A closed epoch's manifest for a person: window, money (emitted = paid + remainder), pools, reports
    and reasons, usage, digests."""

    def tokens(value: Any) -> str:
        return format_tokens(int(value), decimals, symbol, raw=raw)

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    code_column(table, "value")
    start, end = int(manifest["start"]), int(manifest["end"])
    table.add_row("epoch", f"{manifest['number']} (epochs are numbered from 0)")
    table.add_row(
        "window",
        f"{format_time(start, raw=raw)} → {format_time(end, raw=raw)} ({format_duration(end - start)})",
    )
    table.add_row("root", str(manifest.get("root") or "- (nothing paid so far)"))
    table.add_row("emitted", tokens(manifest["emitted"]))
    table.add_row("paid", tokens(manifest["paid"]))
    for cause, amount in manifest.get("remainder", {}).items():
        table.add_row("  not paid", f"{cause}: {tokens(amount)}")
    for category, pool in manifest.get("pools", {}).items():
        table.add_row(
            "  pool", f"{category}: {tokens(pool)} (paid {tokens(manifest['totals'].get(category, 0))})"
        )
    for source, target, amount, cause in manifest.get("flows", []):
        table.add_row("  flowed", f"{source} → {target}: {tokens(amount)} ({cause})")
    table.add_row("reports", f"{manifest.get('reports', 0):,} accepted")
    for reason, count in manifest.get("ingest_rejections", {}).items():
        table.add_row("  refused at ingest", f"{reason} {count:,}")
    for reason, count in manifest.get("invalid_by_reason", {}).items():
        table.add_row("  invalid (rules)", f"{reason} {count:,}")
    for reason, count in manifest.get("device_notes_by_reason", {}).items():
        table.add_row("  device notes", f"{reason} {count:,}")
    usage = manifest.get("usage", {})
    if usage:
        table.add_row(
            "usage",
            f"{usage.get('credits', 0):,} credits, ratio {format_fraction(usage.get('usage_ratio', '0'))} "
            f"of the emission's value, usage weight {format_fraction(usage.get('usage_weight', '0'))}",
        )
    table.add_row("rewarded devices", f"{manifest.get('rewarded_devices', 0):,}")
    table.add_row("owners (leaves)", f"{manifest.get('leaf_count', 0):,}")
    for key in ("inputs_digest", "params_digest", "engine_version"):
        table.add_row(key, str(manifest.get(key)))
    return table


@app.command("show")
def epoch_show(
    number: EpochNumber,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
    raw: Raw = False,
) -> None:
    """Print epoch NUMBER's manifest (with every leaf in --json)."""
    node = open_node(data_dir)
    record = node.store.get_epoch(number)
    if record is None:
        closed = node.store.epoch_numbers()
        fail(f"epoch {number} is not closed in {data_dir} (closed: {_ranges(closed) or 'none yet'})")
    if as_json:
        sys.stdout.write(json.dumps(record.manifest, indent=2) + "\n")
        return
    token = node.config.token
    print_table(out, manifest_table(dict(record.manifest), token.symbol, token.decimals, raw))


def _ranges(numbers: list[int]) -> str:
    """`0–4` for consecutive numbers, else a comma list."""
    if not numbers:
        return ""
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
        return f"{numbers[0]}–{numbers[-1]}"
    return ", ".join(map(str, numbers))


@app.command("proof")
def epoch_proof(
    number: EpochNumber,
    address: Annotated[str, typer.Argument(help="the owner: a 0x address or a keystore key name (owner-0)")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Print the Merkle proof of ADDRESS's cumulative reward in epoch NUMBER (JSON)."""
    from opendepin.cli.common import owner_address
    from opendepin.rewards.proofs import ProofError
    from opendepin.services.proofs import proof_for

    address = owner_address(data_dir, address)
    node = open_node(data_dir)
    try:
        proof = proof_for(node.store, number, address)
    except ProofError as error:
        fail(f"{error.reason}: {error}")
    sys.stdout.write(json.dumps(proof, indent=2) + "\n")


@app.command("export")
def epoch_export(
    number: EpochNumber,
    out_path: Annotated[Path, typer.Option("--out", help="file to write the bundle to")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Write closed epoch NUMBER as one self-contained bundle (docs/epoch-bundle.md)."""
    from opendepin.rewards.bundle import bundle_sha256

    node = open_node(data_dir)
    try:
        data = node.export_epoch(number)
    except KeyError:
        fail(f"epoch {number} is not closed in {data_dir}")
    if out_path.is_dir():
        fail(f"{out_path} is a directory; give a file name")
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out_path)
    out.print(f"wrote {out_path}: epoch {number}, {len(data):,} bytes, sha256 {bundle_sha256(data)}")


def _print_audit(report: Any, source: str) -> None:
    from opendepin.rewards.audit import MAX_SHOWN

    for note in report.notes:
        err.print(f"[yellow]note[/yellow]: {escape(note)}")
    if report.matches:
        out.print(
            f"match: epoch {report.epoch} recomputed bit for bit from {report.reports} signed reports in "
            f"{source} (root {report.root})"
        )
        return
    if report.input_problems:
        out.print(f"[red]mismatch[/red]: {len(report.input_problems)} problems with the inputs of {source}")
        for problem in report.input_problems[:MAX_SHOWN]:
            out.print(f"  {escape(problem)}")
    if report.differences:
        tables = sorted({d.table for d in report.differences})
        out.print(
            f"[red]mismatch[/red]: epoch {report.epoch} differs from its recomputation in "
            f"{len(report.differences)} rows of {', '.join(tables)}"
        )
        for difference in report.differences[:MAX_SHOWN]:
            out.print(f"  {escape(difference.describe())}")
    raise typer.Exit(1)


def _check_chain_root(
    data_dir: Path | None, chain: str | None, rpc_url: str | None, number: int, root: str | None
) -> None:
    """Compare the root posted on chain for epoch `number` with the recomputed one."""
    from opendepin.chain.backend import ChainError
    from opendepin.chain.factory import open_backend
    from opendepin.config import ChainConfig

    base = data_dir if data_dir is not None else Path.cwd()
    chain_config = ChainConfig()
    if data_dir is not None and (data_dir / "network.toml").exists():
        chain_config = load_network(data_dir).chain
    try:
        backend = open_backend(base, chain_config, kind=chain, rpc_url=rpc_url, read_only=True)
        try:
            posted = backend.epoch_root(number)
        finally:
            backend.close()
    except ChainError as error:
        fail(f"cannot read the chain: {error}")
    posted_hex = "0x" + posted.hex() if posted is not None else None
    if posted_hex != root:
        out.print(
            f"[red]mismatch[/red]: the chain holds root {posted_hex} for epoch {number}, recomputed {root}"
        )
        raise typer.Exit(1)
    out.print(f"match: the root posted on chain for epoch {number} is the recomputed one")


@app.command("verify")
def epoch_verify(
    number: Annotated[
        int | None, typer.Argument(help="epoch to recompute from the data dir (the first is 0)")
    ] = None,
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
        fail("give an epoch NUMBER (recomputed from the data dir) or --bundle FILE")
    if bundle is not None:
        try:
            decoded = decode_bundle(bundle.read_bytes())
            report = verify_bundle(decoded)
        except OSError as error:
            fail(f"cannot read {bundle}: {error.strerror or error}")
        except BundleError as error:
            fail(f"mismatch: {bundle} is not a valid epoch bundle: {error}", code=1)
        _print_audit(report, str(bundle))
        if chain is not None:
            _check_chain_root(data_dir, chain, rpc_url, report.epoch, report.root)
        return
    assert number is not None
    directory = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    node = open_node(directory)
    try:
        report = node.audit_epoch(number)
    except KeyError:
        fail(f"epoch {number} is not closed in {directory}")
    _print_audit(report, str(directory))
    if chain is not None:
        _check_chain_root(directory, chain, rpc_url, number, report.root)
