"""`depin wallet new | import | list | balance`: keys in an encrypted keystore, never on the command line.

Keys live as Ethereum keystore (v3) files in `--keystore` (default `<data dir>/keystore`, where `depin up`
also keeps the network's role keys). The password comes from `DEPIN_KEYSTORE_PASSWORD`, else the
keystore's generated password file (a development data dir), else a prompt (see
`opendepin.identity.keystore`). `import` reads the private key from a hidden prompt or standard input, or
from `--key-file`: never from an argument, which would end up in the shell history and the process list.
Other commands then name the key: `depin claim --owner NAME`, `depin credits buy --buyer NAME`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from opendepin.chain.cli import (
    DEFAULT_DATA_DIR,
    ChainOpt,
    DataDirOpt,
    JsonOpt,
    KeystoreOpt,
    RpcUrlOpt,
    _backend,
    _fail,
    keystore_of,
)

wallet_app = typer.Typer(
    help="Encrypted keys: create, import, list, and their balances.", no_args_is_help=True
)
out = Console(soft_wrap=True)

NameArg = Annotated[str, typer.Argument(help="the key's name in the keystore (letters, digits, . _ -)")]


def _new_password(directory: Path) -> Any:
    """The password new keys are stored under: the keystore's, or a new one asked twice."""
    from opendepin.identity.keystore import KeystoreError, resolve_password

    def ask() -> str:
        return str(typer.prompt("new keystore password", hide_input=True, confirmation_prompt=True))

    try:
        return resolve_password(directory, prompt=ask)
    except KeystoreError as error:
        _fail(str(error))
    except (typer.Abort, EOFError):
        _fail("no keystore password: set DEPIN_KEYSTORE_PASSWORD or run the command on a terminal")


def _store(name: str, key: bytes | None, data_dir: Path, keystore: Path | None, as_json: bool) -> None:
    from opendepin.identity.keystore import KeystoreError, new_private_key

    store = keystore_of(data_dir, keystore)
    try:
        store.path(name)  # a bad name fails before any prompt
        if name in store:
            _fail(f"a key named {name!r} already exists in {store.directory}")
        password = _new_password(store.directory)
        address = store.save(name, key or new_private_key(), password)
    except KeystoreError as error:
        _fail(str(error))
    note = (
        " (under the data dir's generated password: fine for a development network; set "
        "DEPIN_KEYSTORE_PASSWORD for keys that hold value)"
        if password.generated
        else ""
    )
    _emit(
        {"name": name, "address": address, "file": str(store.path(name))}, as_json, f"{name}  {address}{note}"
    )


def _emit(data: dict[str, Any] | list[Any], as_json: bool, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out.print(text)


@wallet_app.command("new")
def new_command(
    name: NameArg,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a random key NAME, encrypted in the keystore; prints its address."""
    _store(name, None, data_dir, keystore, as_json)


def _read_private_key(key_file: Path | None) -> bytes:
    """A 32-byte private key from `key_file`, else from a hidden prompt / standard input (0x-hex)."""
    if key_file is not None:
        try:
            text = key_file.read_text()
        except OSError as error:
            _fail(f"cannot read {key_file}: {error}")
    else:
        try:
            text = str(typer.prompt("private key (hex)", hide_input=True))
        except (typer.Abort, EOFError):
            _fail(
                "no private key given: type it at the prompt, pipe it on standard input, or pass --key-file"
            )
    raw = text.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(key) != 32:
        _fail("a private key is 32 bytes in hex (64 hex digits, optionally after 0x)")
    return key


@wallet_app.command("import")
def import_command(
    name: NameArg,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="file holding the private key in hex (default: prompt)")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store an existing private key as NAME (read from a hidden prompt, standard input or --key-file)."""
    key = _read_private_key(key_file)
    _store(name, key, data_dir, keystore, as_json)


@wallet_app.command("list")
def list_command(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every key in the keystore: name and address (no password needed)."""
    from opendepin.identity.keystore import KeystoreError

    store = keystore_of(data_dir, keystore)
    try:
        entries = store.entries()
    except KeystoreError as error:
        _fail(str(error))
    text = "\n".join(f"{name:<16}{address}" for name, address in entries) or f"no keys in {store.directory}"
    _emit([{"name": name, "address": address} for name, address in entries], as_json, text)


@wallet_app.command("balance")
def balance_command(
    who: Annotated[str, typer.Argument(help="a key's name in the keystore, or any address")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    keystore: KeystoreOpt = None,
    chain: ChainOpt = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tokens, rewards claimed, data credits (and native coin on a JSON-RPC chain) of WHO."""
    from eth_utils.address import is_address, to_checksum_address

    from opendepin.identity.keystore import KeystoreError

    if is_address(who):
        address = to_checksum_address(who)
    else:
        try:
            address = keystore_of(data_dir, keystore).address(who)
        except KeystoreError as error:
            _fail(str(error))
    with _backend(data_dir, chain, rpc_url) as (backend, config):
        result: dict[str, Any] = {
            "address": address,
            "tokens": backend.balance_of(address),
            "claimed": backend.claimed(address),
            "credits": backend.credits_of(address),
        }
        native = getattr(backend, "native_balance", None)
        if native is not None:
            result["native_wei"] = native(address)
        unit = 10**config.token.decimals
        text = (
            f"{address}: {result['tokens'] / unit:,.6f} {config.token.symbol}, claimed "
            f"{result['claimed'] / unit:,.6f}, {result['credits']:,} credits"
            + (f", {result['native_wei'] / 10**18:,.6f} native" if "native_wei" in result else "")
        )
        _emit(result, as_json, text)
