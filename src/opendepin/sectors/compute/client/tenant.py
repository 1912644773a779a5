"""`depin compute ...`: the tenant's commands.

- `submit JOB --budget CREDITS`: escrow `CREDITS` (a usage receipt the tenant signs; any bonded provider
  anchors it, the engine credits the tenant's escrow account), sign the order and post it to the board;
  `--wait` follows it to its end. JOB is `kind:units:size` (e.g. `mlp:16:64`) or a JSON file with those
  keys and optionally `seed`, `replicas`, `runs`, `max_price`, `deadline_s`, `requirements`.
- `result ID`: the order's status, leases and results; checks each result's Merkle root over its outputs,
  that replicas agree, and (`--check N`) recomputes N units locally; writes the outputs with `--out`.
- `orders`: the board and the book.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from opendepin.identity.wallets import Wallet

SECTOR = "/v1/sectors/compute"


def examples(*lines: str) -> str:
    """An epilog listing examples, one per line (as every depin command shows them)."""
    return "\n".join(["Examples:", *(f"  $ {line}" for line in lines)])


app = typer.Typer(
    help="Order compute jobs and fetch their verified results.",
    no_args_is_help=True,
    epilog=examples(
        "depin compute submit mlp:16:64 --budget 5000",
        "depin compute result ORDER_ID --check 4",
    ),
)
NodeOpt = Annotated[str, typer.Option(help="the node's URL")]
KeyOpt = Annotated[Path, typer.Option(help="file with the tenant's key (hex; created if missing)")]


def _wallet(path: Path) -> Wallet:
    from opendepin.identity.wallets import Wallet

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex() + "\n")
        path.chmod(0o600)
    return Wallet(bytes.fromhex(path.read_text().strip().removeprefix("0x")))


def parse_job(text: str) -> dict[str, Any]:
    """`kind:units:size` or a JSON file."""
    path = Path(text)
    if path.exists():
        return dict(json.loads(path.read_text()))
    parts = text.split(":")
    if len(parts) != 3:
        raise typer.BadParameter("JOB is kind:units:size (e.g. mlp:16:64) or a JSON file")
    try:
        return {"kind": parts[0], "units": int(parts[1]), "size": int(parts[2])}
    except ValueError:
        raise typer.BadParameter("units and size are integers") from None


@app.command(
    epilog=examples(
        "depin compute submit mlp:16:64 --budget 5000 --node http://127.0.0.1:8000",
        "depin compute submit job.json --budget 20000 --max-price 30 --wait",
    )
)
def submit(
    job: Annotated[str, typer.Argument(help="kind:units:size (hashchain, matmul, mlp) or a JSON file")],
    budget: Annotated[int, typer.Option(min=1, help="credits to escrow for this order")],
    node: NodeOpt = "http://127.0.0.1:8000",
    key: KeyOpt = Path("compute-tenant.key"),
    max_price: Annotated[int, typer.Option(min=1, help="credits per unit at most")] = 20,
    wait: Annotated[bool, typer.Option(help="follow the order until it ends")] = False,
    timeout: Annotated[float, typer.Option(help="seconds --wait waits at most")] = 600.0,
) -> None:
    """Escrow the budget, sign the order, post it; print its id."""
    from opendepin.market.receipts import UsageReceipt, sign_receipt
    from opendepin.sectors.compute.client.node_api import NodeApi, NodeError
    from opendepin.sectors.compute.jobs import JobError, JobSpec
    from opendepin.sectors.compute.orders import Order, Requirements, sign_order

    spec = parse_job(job)
    api, tenant = NodeApi(node), _wallet(key)
    try:
        jobspec = JobSpec.from_map(
            {
                "kind": spec["kind"],
                "seed": spec.get("seed", os.urandom(32).hex()),
                "units": spec["units"],
                "size": spec["size"],
            }
        )
    except (JobError, KeyError) as error:
        raise typer.BadParameter(str(error)) from None
    req = spec.get("requirements", {})
    requirements = Requirements(
        req.get("cpu_cores", 1),
        req.get("memory_mb", 64),
        req.get("gpu_model", ""),
        req.get("benchmark_hps", 0),
    )
    providers = api.get(f"{SECTOR}/providers")["providers"]
    if not providers:
        raise typer.BadParameter("no provider has a bond on this node yet: nobody could take the order")
    now = api.now()
    receipt = UsageReceipt(
        "compute",
        providers[0]["device"],
        tenant.address,
        budget,
        budget,
        "credits",
        f"escrow:{os.urandom(8).hex()}",
        now,
    )
    funded = api.send_receipts([sign_receipt(receipt, tenant.sign_text).to_wire()])
    if funded["accepted"] != 1:
        raise typer.BadParameter(f"escrow refused: {funded['results'][0]}")
    order = Order(
        tenant.address,
        jobspec,
        requirements,
        spec.get("max_price", max_price),
        budget,
        spec.get("replicas", 1),
        spec.get("runs", 1),
        spec.get("deadline_s", 600),
        now,
        int.from_bytes(os.urandom(4), "big"),
    )
    data, signature = sign_order(order, tenant.sign_text)
    posted = api.post_json(f"{SECTOR}/orders", {"order": data.hex(), "signature": signature.hex()})
    typer.echo(posted["id"])
    if wait:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                detail = api.get(f"{SECTOR}/orders/{posted['id']}")
            except NodeError:
                detail = {"status": "posted"}
            if detail["status"] in ("done", "closed"):
                typer.echo(f"{detail['status']} {detail.get('reason', '')}".strip())
                return
            time.sleep(2)
        raise typer.Exit(1)


def check_results(detail: dict[str, Any], check_units: int) -> list[dict[str, Any]]:
    """Per result: root over outputs, agreement with other replicas, local recomputation of units."""
    import cbor2

    from opendepin.sectors.compute.jobs import run_unit
    from opendepin.sectors.compute.merkle import outputs_root
    from opendepin.sectors.compute.orders import parse_order

    order = parse_order(cbor2.loads(bytes.fromhex(detail["order_hex"])))
    rows = []
    by_run: dict[int, set[str]] = {}
    for result in detail["results"]:
        outputs = [bytes.fromhex(o) for o in result["outputs"]]
        job = order.job.for_run(result["run"])
        recomputed = [u for u in range(min(check_units, len(outputs))) if run_unit(job, u) != outputs[u]]
        by_run.setdefault(result["run"], set()).add(result["root"])
        rows.append(
            {
                **result,
                "root_ok": outputs_root(outputs).hex() == result["root"],
                "local_mismatches": recomputed,
            }
        )
    for row in rows:
        row["replicas_agree"] = len(by_run[row["run"]]) == 1
    return rows


@app.command(
    epilog=examples(
        "depin compute result ORDER_ID --check 4",
        "depin compute result ORDER_ID --json --out outputs.json",
    )
)
def result(
    order_id: Annotated[str, typer.Argument(help="the order id submit printed")],
    node: NodeOpt = "http://127.0.0.1:8000",
    check: Annotated[int, typer.Option(min=0, help="units to recompute locally per result")] = 0,
    out: Annotated[Path | None, typer.Option(help="write the outputs (hex, JSON) here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The order's status and results, checked."""
    from rich.console import Console
    from rich.table import Table

    from opendepin.sectors.compute.client.node_api import NodeApi

    detail = NodeApi(node).get(f"{SECTOR}/orders/{order_id}")
    rows = check_results(detail, check) if detail.get("order_hex") else []
    if out is not None:
        # verified results, and results awaiting their spot check (`pending`) whose root holds
        kept = [r for r in rows if r["verdict"] == "ok" or (r["verdict"] == "pending" and r["root_ok"])]
        out.write_text(json.dumps({str(r["run"]): r["outputs"] for r in kept}))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "order": order_id,
                    "status": detail["status"],
                    "reason": detail.get("reason"),
                    "escrow": detail.get("escrow"),
                    "leases": detail.get("leases", []),
                    "results": [{k: v for k, v in r.items() if k != "outputs"} for r in rows],
                }
            )
        )
        return
    table = Table(title=f"order {order_id[:16]}…: {detail['status']} {detail.get('reason', '')}")
    for column in ("run", "device", "root", "verdict", "root ok", "replicas agree", "local check"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["run"]),
            r["device"][:20],
            r["root"][:16],
            str(r["verdict"]),
            str(r["root_ok"]),
            str(r["replicas_agree"]),
            "–"
            if not check
            else ("ok" if not r["local_mismatches"] else f"wrong units {r['local_mismatches']}"),
        )
    Console().print(table)


@app.command(
    epilog=examples(
        "depin compute orders --node http://127.0.0.1:8000",
    )
)
def orders(node: NodeOpt = "http://127.0.0.1:8000") -> None:
    """The board (orders open for bids) and the book (orders by status)."""
    from rich.console import Console
    from rich.table import Table

    from opendepin.sectors.compute.client.node_api import NodeApi

    board = NodeApi(node).get(f"{SECTOR}/orders")
    table = Table(title=f"compute orders (book as of {board.get('as_of')})")
    for column in ("order", "status", "tenant", "leases"):
        table.add_column(column)
    for row in board["open"]:
        table.add_row(row["id"][:16], f"open until {row['bids_until']}", row["tenant"][:12], "0")
    for row in board["book"]:
        table.add_row(row["id"][:16], row["status"], row["tenant"][:12], str(row["leases"]))
    Console().print(table)
