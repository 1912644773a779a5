"""`depin chain …`, `depin credits buy`, `depin claim` (issue 3, "CLI").

The main CLI mounts `chain_app` as `depin chain`, `credits_app` as `depin credits` and registers
`claim_command` as `depin claim`. Every command takes `--data-dir` (default ./.depin), `--chain
embedded|rpc` and `--rpc-url`; the network is read from `<data dir>/network.toml` when present (defaults
otherwise). Errors print what to do and exit with status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from opendepin.config import ConfigError, NetworkConfig, load_config

chain_app = typer.Typer(help="Settlement contracts: deploy, status, oracle price.", no_args_is_help=True)
credits_app = typer.Typer(help="Data credits: buy with tokens at the oracle price.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)  # no hard wraps: paths and commands stay copyable

DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="where the network keeps its state")]
ChainOpt = Annotated[
    str | None,
    typer.Option("--chain", help="embedded (in-process EVM) or rpc (JSON-RPC node)"),
]
RpcUrlOpt = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC URL for --chain rpc")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
DEFAULT_DATA_DIR = Path(".depin")


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _config(data_dir: Path) -> NetworkConfig:
    path = data_dir / "network.toml"
    if not path.exists():
        return NetworkConfig()
    try:
        return load_config(path)
    except ConfigError as error:
        _fail(str(error))
        raise  # unreachable: _fail exits


@contextmanager
def _backend(data_dir: Path, chain: str | None, rpc_url: str | None) -> Iterator[tuple[Any, NetworkConfig]]:
    from opendepin.chain.backend import ChainError
    from opendepin.chain.factory import open_backend

    if chain not in (None, "embedded", "rpc"):
        _fail(f"--chain must be 'embedded' or 'rpc', got {chain!r}")
    config = _config(data_dir)
    kind = chain or ("rpc" if rpc_url else None)
    try:
        backend = open_backend(data_dir, config.chain, kind=kind, rpc_url=rpc_url)
    except ChainError as error:
        _fail(str(error))
    try:
        yield backend, config
    except ChainError as error:
        _fail(str(error))
    finally:
        backend.close()


def _parse_usd(value: str) -> Decimal:
    """A positive USD amount from `--usd`, or a clear error."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        _fail(f"--usd must be a number, got {value!r}")
    if not amount.is_finite() or amount <= 0:
        _fail("--usd must be positive")
    return amount


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        Console(soft_wrap=True).print(text)


@chain_app.command("deploy")
def deploy_command(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    force: Annotated[bool, typer.Option(help="deploy a new set even if one is recorded")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the token, oracle, credits, registry and distributor (once per data dir and chain)."""
    from opendepin.chain.deploy import params_from_config

    with _backend(data_dir, chain, rpc_url) as (backend, config):
        if not force and backend.is_deployed():
            contracts = backend.contracts
            note = "already deployed"
        else:
            try:
                contracts = backend.deploy(params_from_config(config, backend.keys), force=force)
            except ValueError as error:
                _fail(f"{error} (fix [token] / [chain] in {data_dir / 'network.toml'})")
            note = "deployed"
        lines = "\n".join(f"  {name:<19}{address}" for name, address in contracts.items())
        _emit(
            {"chain_id": backend.chain_id, "contracts": contracts},
            as_json,
            f"{note} on chain {backend.chain_id}:\n{lines}",
        )


@chain_app.command("status")
def status_command(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Contracts, supply, posted and claimed rewards, latest epoch, oracle price."""
    with _backend(data_dir, chain, rpc_url) as (backend, config):
        status = backend.status()
        unit = 10**config.token.decimals
        text = "\n".join(
            [
                f"{status.backend} chain {status.chain_id}, block {status.block_number}",
                f"total supply  {status.total_supply / unit:,.6f} {config.token.symbol}"
                f" (max {status.max_supply / unit:,.0f})",
                f"posted        {status.total_posted / unit:,.6f}"
                f"   claimed {status.total_claimed / unit:,.6f}",
                f"latest epoch  {status.latest_epoch}   next {status.next_epoch}   root {status.latest_root}",
                f"price         ${Decimal(status.price_usd_wad) / 10**18}"
                + ("  (STALE: burning refused)" if status.price_stale else ""),
                f"devices       {status.devices}   credits outstanding {status.credits_supply}",
                *(f"  {name:<19}{address}" for name, address in status.contracts.items()),
            ]
        )
        _emit(status.to_json(), as_json, text)


@chain_app.command("price")
def price_command(
    usd: Annotated[str, typer.Option("--usd", help="token price in USD, e.g. 1.25")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post the token price to the oracle as the operator (a feeder); a stale price blocks credit sales."""
    price = _parse_usd(usd)
    with _backend(data_dir, chain, rpc_url) as (backend, _):
        receipt = backend.set_price(price)
        _emit(
            {"price_usd": str(price), "tx_hash": receipt.tx_hash},
            as_json,
            f"price ${price}; tx {receipt.tx_hash}",
        )


@credits_app.command("buy")
def buy_command(
    usd: Annotated[str, typer.Option("--usd", help="USD worth of credits to buy, e.g. 2.50")],
    buyer_key: Annotated[
        str | None,
        typer.Option(
            "--buyer-key", envvar="DEPIN_BUYER_KEY", help="key burning the tokens (default: operator)"
        ),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="credit receiver (default: buyer)")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Burn tokens at the oracle price for data credits (1 DC = $0.00001 by default; burn rounded up)."""
    amount = _parse_usd(usd)
    with _backend(data_dir, chain, rpc_url) as (backend, _):
        purchase = backend.buy_credits(amount, buyer_key=buyer_key, recipient=to)
        text = (
            f"bought {purchase.credits:,} credits for {purchase.recipient}, burned {purchase.tokens_burned} "
            f"token units at ${Decimal(purchase.price_usd_wad) / 10**18}; tx {purchase.tx_hash}"
        )
        _emit(asdict(purchase), as_json, text)


def _leaf_from_store(
    data_dir: Path, config: NetworkConfig, epoch: int, address: str
) -> tuple[int, list[str]]:
    from opendepin.rewards.proofs import ProofError, proof_for
    from opendepin.store.factory import open_store

    store = open_store(config.store, data_dir)
    try:
        found = proof_for(store, epoch, address)
    except ProofError as error:
        _fail(f"{error} (from the store in {data_dir}); pass --cumulative and --proof to claim by hand")
        raise
    return int(found["cumulative"]), list(found["proof"])


def claim_command(
    owner: Annotated[
        str, typer.Option("--owner", envvar="DEPIN_OWNER_KEY", help="the owner's private key (0x-hex)")
    ],
    cumulative: Annotated[
        int | None, typer.Option(help="the leaf's cumulative amount; default: from the data dir's store")
    ] = None,
    proof: Annotated[str | None, typer.Option(help="JSON list of 0x-hex proof elements")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Claim everything claimable for OWNER against the latest posted root; prints amount and tx hash."""
    from opendepin.chain.signing import address_of

    try:
        account = address_of(owner)
    except Exception:
        _fail("--owner must be a 32-byte private key in hex")
    if (cumulative is None) != (proof is None):
        _fail("--cumulative and --proof go together")
    with _backend(data_dir, chain, rpc_url) as (backend, config):
        status = backend.status()
        if status.latest_epoch is None:
            _fail("no epoch has been posted on chain yet; run `depin up` first")
        if cumulative is None:
            cumulative, elements = _leaf_from_store(data_dir, config, status.latest_epoch, account)
        else:
            elements = [str(p) for p in json.loads(proof or "[]")]
        already = backend.claimed(account)
        result: dict[str, Any] = {"account": account, "epoch": status.latest_epoch, "cumulative": cumulative}
        if cumulative <= already:
            result.update(amount=0, tx_hash=None, gas_used=0)
            _emit(result, as_json, f"nothing to claim for {account}: {already} already claimed")
            return
        backend.fund(account, 10**16)
        claimed = backend.claim(owner, cumulative, [bytes.fromhex(p[2:]) for p in elements])
        result.update(amount=claimed.amount, tx_hash=claimed.tx_hash, gas_used=claimed.gas_used)
        _emit(result, as_json, f"claimed {claimed.amount} token units for {account}; tx {claimed.tx_hash}")


claim_app = typer.Typer(help="Claim rewards.")
claim_app.command("claim")(claim_command)
