"""`depin chain …`, `depin credits buy`, `depin claim` (issue 3, "CLI").

The main CLI mounts `chain_app` as `depin chain`, `credits_app` as `depin credits` and registers
`claim_command` as `depin claim`. Every command takes `--data-dir` (default ./.depin), `--chain
embedded|rpc` and `--rpc-url`; the network is read from `<data dir>/network.toml` when present (defaults
otherwise). Errors print what to do and exit with status 1.

A private key is never a command-line argument (it would sit in the shell history and the process
list): `--owner` and `--buyer` name a key in the keystore (`--keystore`, default `<data dir>/keystore`,
by name or address; password from `DEPIN_KEYSTORE_PASSWORD`, the keystore's password file, or a prompt),
and automation passes a raw key in the environment instead (`DEPIN_OWNER_KEY`, `DEPIN_BUYER_KEY`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

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
KeystoreOpt = Annotated[
    Path | None, typer.Option("--keystore", help="keystore directory (default: DATA_DIR/keystore)")
]
DEFAULT_DATA_DIR = Path(".depin")
OWNER_KEY_ENV = "DEPIN_OWNER_KEY"
BUYER_KEY_ENV = "DEPIN_BUYER_KEY"


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}")  # as written: `[chain] kind` is text, not markup
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


def prompt_password() -> str:
    """Ask for a keystore password on the terminal (click.Abort when there is no input)."""
    return str(typer.prompt("keystore password", hide_input=True))


def keystore_of(data_dir: Path, keystore: Path | None) -> Any:
    """The keystore `--keystore` names, else the data dir's."""
    from opendepin.identity.keystore import Keystore, data_dir_keystore

    return Keystore(keystore) if keystore is not None else data_dir_keystore(data_dir)


def load_signing_key(data_dir: Path, keystore: Path | None, who: str | None, option: str, env: str) -> str:
    """The private key (0x-hex) of `who` (a keystore name or address), else the one in `env`."""
    from opendepin.identity.keystore import KeystoreError, resolve_password

    if who is None:
        raw = os.environ.get(env)
        if not raw:
            _fail(f"pass {option} NAME|ADDRESS (a key in the keystore) or set {env} to a private key")
        return str(raw)
    store = keystore_of(data_dir, keystore)
    try:
        name = store.resolve(who)
        password = resolve_password(store.directory, prompt=prompt_password)
        return "0x" + store.load(name, password.value).hex()
    except KeystoreError as error:
        _fail(str(error))
    except (typer.Abort, EOFError):
        _fail(f"no keystore password: set DEPIN_KEYSTORE_PASSWORD or run {option} on a terminal")
    raise AssertionError("unreachable")


@contextmanager
def _backend(
    data_dir: Path, chain: str | None, rpc_url: str | None, read_only: bool = False
) -> Iterator[tuple[Any, NetworkConfig]]:
    """The data dir's chain (flags, else the chain its node was last served with, else network.toml's).
    `read_only` (commands that only read): an embedded chain held by a running node is read from its
    journal, with a note on stderr, instead of refused."""
    from opendepin.chain.backend import ChainError
    from opendepin.chain.factory import open_backend
    from opendepin.identity.keystore import KeystoreError

    if chain not in (None, "embedded", "rpc"):
        _fail(f"--chain must be 'embedded' or 'rpc', got {chain!r}")
    config = _config(data_dir)
    kind = chain or ("rpc" if rpc_url else None)
    try:
        backend = open_backend(data_dir, config.chain, kind=kind, rpc_url=rpc_url, read_only=read_only)
    except (ChainError, KeystoreError) as error:
        _fail(str(error))
    if getattr(backend, "read_only", False):
        err.print(
            f"note: the embedded chain in {data_dir} is held by a running node; read from its journal as it "
            "stands now"
        )
    try:
        yield backend, config
    except (ChainError, KeystoreError) as error:
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
    from opendepin.cli.output import format_duration, format_tokens

    with _backend(data_dir, chain, rpc_url, read_only=True) as (backend, config):
        status = backend.status()

        def tokens(units: int) -> str:
            return format_tokens(units, config.token.decimals, config.token.symbol)

        delay = status.timelock_delay_seconds
        waits = f"{format_duration(delay)}, {delay:,} s" if delay >= 60 else f"{delay} s"
        text = "\n".join(
            [
                f"{status.backend} chain {status.chain_id}, block {status.block_number}",
                f"total supply  {tokens(status.total_supply)} (max {tokens(status.max_supply)})",
                f"posted        {tokens(status.total_posted)}   claimed {tokens(status.total_claimed)}",
                f"latest epoch  {status.latest_epoch}   next {status.next_epoch}   root {status.latest_root}",
                f"price         ${Decimal(status.price_usd_wad) / 10**18}"
                + ("  (STALE: burning refused)" if status.price_stale else ""),
                f"devices       {status.devices}   credits outstanding {status.credits_supply}",
                f"timelock      admin changes wait {waits} (`depin chain roles`)",
                *(f"  {name:<19}{address}" for name, address in status.contracts.items()),
            ]
        )
        _emit(status.to_json(), as_json, text)


@chain_app.command("roles")
def roles_command(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who holds what, read from the chain: owners, timelock (roles, delay), pausers, feeders, oracles."""
    with _backend(data_dir, chain, rpc_url, read_only=True) as (backend, _):
        roles = backend.roles()
        quorum = f"oracles ({roles['oracle_threshold']} of {len(roles['oracles'])})"
        lines = [
            f"timelock {roles['timelock']}: delay {roles['timelock_delay_seconds']:,} s, proposers "
            f"{', '.join(roles['timelock_proposers'])}, executors {', '.join(roles['timelock_executors'])}",
            *(f"{'owner of ' + name:<30}{owner}" for name, owner in roles["owners"].items()),
            f"{'admins of DataCredits':<30}{', '.join(roles['credits_admins'])}",
            *(f"{'pausers of ' + name:<30}{', '.join(held)}" for name, held in roles["pausers"].items()),
            f"{'feeders of PriceOracle':<30}{', '.join(roles['feeders'])}",
            f"{quorum:<30}{', '.join(roles['oracles'])}",
        ]
        _emit(roles, as_json, "\n".join(lines))


@chain_app.command("price")
def price_command(
    usd: Annotated[str, typer.Option("--usd", help="token price in USD, e.g. 1.25")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post the token price to the oracle as the feeder (moves are bounded per hour); a stale price blocks
    credit sales."""
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
    buyer: Annotated[
        str | None,
        typer.Option(
            "--buyer",
            help=f"name or address of the key burning tokens (default: ${BUYER_KEY_ENV}, else the operator)",
        ),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="credit receiver (default: buyer)")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Burn tokens at the oracle price for data credits (1 DC = $0.00001 by default; burn rounded up)."""
    amount = _parse_usd(usd)
    buyer_key = None
    if buyer is not None or os.environ.get(BUYER_KEY_ENV):
        buyer_key = load_signing_key(data_dir, keystore, buyer, "--buyer", BUYER_KEY_ENV)
    from opendepin.cli.output import format_tokens

    with _backend(data_dir, chain, rpc_url) as (backend, config):
        purchase = backend.buy_credits(amount, buyer_key=buyer_key, recipient=to)
        burned = format_tokens(purchase.tokens_burned, config.token.decimals, config.token.symbol, exact=True)
        text = (
            f"bought {purchase.credits:,} credits for {purchase.recipient}, burned {burned} "
            f"at ${Decimal(purchase.price_usd_wad) / 10**18}; tx {purchase.tx_hash}"
        )
        _emit(asdict(purchase), as_json, text)


def _leaf_from_store(
    data_dir: Path, config: NetworkConfig, epoch: int, address: str
) -> tuple[int, list[str]]:
    from opendepin.rewards.proofs import ProofError
    from opendepin.services.proofs import proof_for
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
        str | None,
        typer.Option(
            "--owner", help=f"name or address of the owner's key in the keystore (default: ${OWNER_KEY_ENV})"
        ),
    ] = None,
    cumulative: Annotated[
        int | None, typer.Option(help="the leaf's cumulative amount; default: from the data dir's store")
    ] = None,
    proof: Annotated[str | None, typer.Option(help="JSON list of 0x-hex proof elements")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Claim everything claimable for OWNER against the latest posted root; prints amount and tx hash."""
    from opendepin.chain.signing import address_of
    from opendepin.cli.output import format_tokens

    owner_key = load_signing_key(data_dir, keystore, owner, "--owner", OWNER_KEY_ENV)
    try:
        account = address_of(owner_key)
    except Exception:
        _fail(f"{OWNER_KEY_ENV} must hold a 32-byte private key in hex")
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
            done = format_tokens(already, config.token.decimals, config.token.symbol, exact=True)
            _emit(result, as_json, f"nothing to claim for {account}: {done} already claimed")
            return
        backend.fund(account, 10**16)
        claimed = backend.claim(owner_key, cumulative, [bytes.fromhex(p[2:]) for p in elements])
        result.update(amount=claimed.amount, tx_hash=claimed.tx_hash, gas_used=claimed.gas_used)
        paid = format_tokens(claimed.amount, config.token.decimals, config.token.symbol, exact=True)
        _emit(result, as_json, f"claimed {paid} for {account}; tx {claimed.tx_hash}")


claim_app = typer.Typer(help="Claim rewards.")
claim_app.command("claim")(claim_command)
