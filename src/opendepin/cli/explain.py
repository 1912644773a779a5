"""`depin explain DEVICE --epoch N` and `depin devices list`: what a device did, and why it earned what it
earned."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from opendepin.cli.common import DEFAULT_DATA_DIR, AsJson, DataDir, Raw, fail, open_node, out
from opendepin.cli.output import code_column, format_time, format_tokens, print_table

app = typer.Typer()
devices_app = typer.Typer(help="The devices onboarded on a network.", no_args_is_help=True)
MAX_EVIDENCE_CHARS = 160


def _evidence(value: Any) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= MAX_EVIDENCE_CHARS else text[: MAX_EVIDENCE_CHARS - 1] + "…"


def _breakdown_value(value: Any) -> str:
    """A reward breakdown value for a person: a map as `name value, …`, anything else as its text."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_breakdown_value(item)}" for key, item in value.items())
    return str(value)


def render_explanation(detail: dict[str, Any], symbol: str, decimals: int, raw: bool) -> list[Any]:
    """The lines and tables `depin explain` prints for `detail` (from `opendepin.explain.explain_device`)."""

    def tokens(units: int) -> str:
        return format_tokens(units, decimals, symbol, raw=raw)

    def exact(units: int) -> str:
        return format_tokens(units, decimals, symbol, raw=raw, exact=True)

    start, end = detail["window"]
    where = (
        f"owner {detail['owner']}, cell {detail['location'] or '-'}"
        if detail["onboarded"]
        else "NOT ONBOARDED on this network"
    )
    parts: list[Any] = [
        f"[bold]{detail['device_id']}[/bold] ({detail['key_type']}), {where}",
        f"epoch {detail['epoch']} ({format_time(start, raw=raw)} → {format_time(end, raw=raw)}): earned "
        f"[bold]{exact(detail['amount'])}[/bold] from {detail['valid_reports']} valid reports",
    ]
    causes = detail["causes"]
    if causes:
        parts.append("")
        parts.append("[bold]why reports or reward were lost[/bold] (most frequent first)")
        table = Table("count", "where", show_edge=False)
        code_column(table, "reason")
        table.add_column("meaning")
        for cause in causes:
            table.add_row(f"{cause['count']:,}", cause["where"], cause["reason"], cause["meaning"] or "")
        parts.append(table)
    ingest = detail["ingest"]
    if ingest["samples"]:
        window = "in this epoch" if ingest["samples_in_epoch"] else "latest kept, outside this epoch"
        parts.append("")
        parts.append(
            f"[bold]refused reports naming this device[/bold] ({window}; the node keeps only the latest "
            "few per reason; a report whose signature did not verify is counted against its sender, not the "
            "device)"
        )
        table = Table(show_edge=False)
        code_column(table, "received")
        table.add_column("source", no_wrap=True)
        code_column(table, "reason")
        table.add_column("message")
        for sample in ingest["samples"]:
            table.add_row(
                format_time(sample["received_at"], raw=raw),
                sample["source"],
                sample["reason"],
                sample["message"],
            )
        parts.append(table)
        for source, reasons in ingest["source_totals"].items():
            counts = ", ".join(f"{reason} {count:,}" for reason, count in reasons.items())
            parts.append(f"  {source} sent {counts} refused reports in this epoch (all devices it relays)")
    if detail["arithmetic"]:
        parts.append("")
        parts.append("[bold]reward[/bold]: amount = ⌊pool × device units ÷ total units⌋ per category")
        for row in detail["arithmetic"]:
            line = (
                f"  {row['category']}: pool {exact(row['pool'])} × {row['units']:,} units ÷ "
                f"{row['total_units']:,} total units = {exact(row['pro_rata'])}"
            )
            if row["capped"]:
                line += f", capped to {exact(row['amount'])} (usage cap)"
            parts.append(line)
        for reward in detail["rewards"]:
            for key, value in reward["breakdown"].items():
                parts.append(f"    {reward['category']} {key}: {_breakdown_value(value)}")
        if len(detail["arithmetic"]) > 1:
            parts.append(f"  total {exact(detail['amount'])} ({tokens(detail['amount'])})")
    elif detail["onboarded"]:
        parts.append("")
        parts.append("[bold]reward[/bold]: no units in any category this epoch, so nothing to share")
    for note in detail["notes"]:
        parts.append(f"  note [yellow]{note['reason']}[/yellow] {_evidence(note['evidence'])}")
    if detail["reports"]:
        parts.append("")
        parts.append(f"[bold]verdicts[/bold] of the {len(detail['reports'])} accepted reports")
        table = Table(show_edge=False)
        code_column(table, "ts")
        table.add_column("kind", no_wrap=True)
        code_column(table, "verdict")
        table.add_column("evidence")
        for report in detail["reports"]:
            table.add_row(
                format_time(report["ts"], raw=raw),
                report["kind"],
                report["reason"],
                _evidence(report["evidence"]),
            )
        parts.append(table)
    return parts


@app.command()
def explain(
    device: Annotated[str, typer.Argument(help="the device id, e.g. ed25519:<64 hex digits>")],
    epoch: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="a closed epoch (the first is 0)")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
    raw: Raw = False,
) -> None:
    """Why DEVICE earned what it earned in EPOCH: refused reports, verdicts, notes and the arithmetic.

    Shows the reasons its reports were refused at ingest (with counts and examples), every verdict of its
    accepted reports, every device note, and for each reward category the pool, the device's units and the
    total units, and the division that gives the amount, in tokens. --json carries the same, amounts in base
    units.
    """
    from opendepin.explain import explain_device

    node = open_node(data_dir)
    try:
        detail = explain_device(node.store, device, epoch)
    except LookupError as error:
        fail(f"{error} (see `depin devices list --data-dir {data_dir}`)")
    if as_json:
        sys.stdout.write(json.dumps(detail, indent=2) + "\n")
        return
    token = node.config.token
    for part in render_explanation(detail, token.symbol, token.decimals, raw):
        if isinstance(part, Table):
            print_table(out, part)
        else:
            out.print(part, soft_wrap=True)


@devices_app.command("list")
def devices_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    owner: Annotated[
        str | None, typer.Option(help="only this owner's devices (0x address or keystore name, e.g. owner-0)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="devices per page")] = 100,
    after: Annotated[
        str | None, typer.Option(help="start after this device id (the last of the previous page)")
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="print only the device ids, one per line")] = False,
    as_json: AsJson = False,
    raw: Raw = False,
) -> None:
    """List the onboarded devices by id: key type, owner, asserted cell, onboarding time."""
    from opendepin.cli.common import owner_address

    node = open_node(data_dir)
    if owner is not None:
        owner = owner_address(data_dir, owner)
    page = node.store.devices_page(after=after, limit=limit, owner=owner)
    if as_json:
        rows = [
            {
                "device_id": d.device_id,
                "key_type": d.key_type,
                "owner": d.owner,
                "maker": d.maker,
                "location": d.location,
                "onboarded_at": d.onboarded_at,
                "attributes": dict(d.attributes),
            }
            for d in page
        ]
        next_after = page[-1].device_id if len(page) == limit else None
        sys.stdout.write(json.dumps({"devices": rows, "next_after": next_after}, indent=2) + "\n")
        return
    if ids:
        sys.stdout.write("".join(f"{d.device_id}\n" for d in page))
        return
    table = Table(title=f"devices of {node.config.name}")
    code_column(table, "device")
    table.add_column("owner", no_wrap=True)
    table.add_column("cell", no_wrap=True)
    table.add_column("onboarded", no_wrap=True)
    for d in page:
        table.add_row(d.device_id, d.owner, d.location or "-", format_time(d.onboarded_at, raw=raw))
    print_table(out, table)
    if len(page) == limit:
        out.print(f"more: --after {page[-1].device_id}", soft_wrap=True)
