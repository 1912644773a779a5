"""`depin provider compute`: the command (light to import; the agent is provider.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def examples(*lines: str) -> str:
    """An epilog listing examples, one per line (as every depin command shows them)."""
    return "\n".join(["Examples:", *(f"  $ {line}" for line in lines)])


app = typer.Typer(
    help="The compute provider agent.",
    epilog=examples(
        "depin provider compute --node http://127.0.0.1:8000 --maker-key maker.key --bond 10000",
        "depin provider compute --price 12 --cores 4 --memory-mb 2048 --wall-s 300",
        "depin provider compute --key-dir p1 --unbond 5000 --once",
    ),
)


@app.callback(invoke_without_command=True)
def provider_compute(
    node: Annotated[str, typer.Option(help="the node's URL")] = "http://127.0.0.1:8000",
    key_dir: Annotated[
        Path, typer.Option(help="where the device and owner keys live (hex, created if missing)")
    ] = Path("compute-provider"),
    maker_key: Annotated[
        Path | None, typer.Option(help="file with the maker's key (hex) to onboard the device (development)")
    ] = None,
    price: Annotated[int, typer.Option(min=1, help="credits per unit this provider bids")] = 10,
    bond: Annotated[
        int, typer.Option(min=0, help="credits the owner puts up as bond at start (0: none)")
    ] = 0,
    cores: Annotated[int, typer.Option(min=1, help="cores to use")] = os.cpu_count() or 1,
    gpu: Annotated[str | None, typer.Option(help="the GPU model the maker attests, if any")] = None,
    cell: Annotated[str, typer.Option(help="the H3 cell the owner asserts")] = "8c1f1d48945d9ff",
    cpu_s: Annotated[int, typer.Option(min=1, help="CPU seconds one run may use")] = 300,
    memory_mb: Annotated[int, typer.Option(min=64, help="memory one run may use (MB)")] = 1_024,
    wall_s: Annotated[float, typer.Option(min=1, help="wall-clock seconds one run may take")] = 600.0,
    poll: Annotated[float, typer.Option(min=0.2, help="seconds between polls")] = 2.0,
    once: Annotated[bool, typer.Option(help="poll once and exit (scripts, tests)")] = False,
    behaviour: Annotated[
        str, typer.Option(help="honest | lazy | partial (testing verification only)")
    ] = "honest",
    unbond: Annotated[
        int,
        typer.Option(
            min=0, help="credits of the bond to withdraw at start (to the owner's escrow after the notice)"
        ),
    ] = 0,
) -> None:
    """Run a compute provider: onboard, answer capacity challenges, bid, run leased jobs in a sandbox."""
    if behaviour not in ("honest", "lazy", "partial"):
        raise typer.BadParameter("behaviour is honest, lazy or partial")
    from opendepin.sectors.compute.client.provider import run
    from opendepin.sectors.compute.client.runner import Limits

    run(
        node,
        key_dir,
        maker_key,
        price,
        bond,
        cores,
        gpu,
        cell,
        Limits(cpu_s, memory_mb, wall_s),
        poll,
        once,
        behaviour,
        unbond,
    )
