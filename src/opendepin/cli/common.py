"""What the `depin` commands share: the data dir option, errors, opening a network's node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from opendepin.config import NetworkConfig
    from opendepin.node import Node

err = Console(stderr=True)
out = Console()

DEFAULT_DATA_DIR = Path(".depin")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the network keeps its state")]
Raw = Annotated[
    bool,
    typer.Option("--raw", help="amounts in base units and times as Unix seconds, not tokens and ISO times"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print one JSON object instead of text")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` as an error and leave with `code` (shown as written: a `[store]` or `[[makers]]` in it
    is text, not Rich markup)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def load_network(data_dir: Path) -> NetworkConfig:
    """The data dir's network.toml, or an error saying how to make one."""
    from opendepin.config import ConfigError, load_config

    try:
        return load_config(data_dir / "network.toml")
    except ConfigError as error:
        fail(f"{error}\n(is {data_dir} a network's data dir? run `depin up --data-dir {data_dir}` first)")


def open_node(data_dir: Path) -> Node:
    """The node of the network in `data_dir` (its store opened, on the wall clock)."""
    from opendepin.clock import SystemClock
    from opendepin.node import Node
    from opendepin.store.factory import open_store

    config = load_network(data_dir)
    return Node(config, open_store(config.store, data_dir), SystemClock())


def owner_address(data_dir: Path, owner: str) -> str:
    """`owner` as a checksummed address: an address as given, or the address of the data dir's keystore key
    of that name (`owner-0`); fails with the known names otherwise."""
    from opendepin.identity.keystore import KeystoreError, data_dir_keystore
    from opendepin.identity.wallets import normalize_address

    try:
        return normalize_address(owner)
    except ValueError:
        keystore = data_dir_keystore(data_dir)
        try:
            return keystore.address(keystore.resolve(owner))
        except KeystoreError as error:
            fail(f"{owner!r} is neither a 0x address nor a key name: {error}")
