"""Open the chain backend a data dir and a `ChainConfig` call for (issue 3, "Python side")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from opendepin.chain.backend import ChainBackend, ChainError
from opendepin.chain.keys import load_or_create_keys
from opendepin.config import ChainConfig
from opendepin.identity.keystore import KeystoreError

SERVE_SETTINGS_FILE = "serve.json"
"""Where a data dir remembers the flags its node was last served with (`depin serve`), its chain among
them."""


def remembered_chain(data_dir: Path) -> tuple[str | None, str | None]:
    """The chain kind and JSON-RPC URL the data dir's node was last served with (`depin serve --chain …
    --rpc-url …`, remembered in `serve.json`); (None, None) when it never was or a file is unreadable."""
    try:
        saved = json.loads((Path(data_dir) / SERVE_SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        return None, None
    if not isinstance(saved, dict):
        return None, None
    kind, url = saved.get("chain"), saved.get("rpc_url")
    return (kind if isinstance(kind, str) else None), (url if isinstance(url, str) else None)


def open_backend(
    data_dir: Path,
    config: ChainConfig,
    *,
    kind: str | None = None,
    rpc_url: str | None = None,
    clock: Callable[[], int] | None = None,
    read_only: bool = False,
) -> ChainBackend:
    """The embedded or rpc backend for `data_dir`. The chain is, first to last: `kind`/`rpc_url` (CLI
    flags), the chain the data dir's node was last served with (`remembered_chain`: `depin chain status`
    reads the chain `depin serve --chain rpc` settles on), the config's. `read_only`: an embedded chain
    held by a running node is opened as a read-only view of its journal (`EmbeddedBackend`) rather than
    refused (`ChainInUseError`).

    The data dir's keystore gets any missing role key (see `opendepin.chain.keys`); a keystore problem
    (no password, a wrong one, plain-text keys of an older version) is raised as a ChainError.
    """
    if kind is None and rpc_url is None:
        kind, rpc_url = remembered_chain(data_dir)
    chosen = kind or config.kind
    if chosen == "none":
        raise ChainError(
            f"the network in {data_dir} runs without a chain (chain kind 'none'); pass --chain embedded or "
            "--chain rpc --rpc-url URL"
        )
    try:
        keys = load_or_create_keys(Path(data_dir), config.oracle_count, config.oracle_threshold)
    except KeystoreError as error:
        raise ChainError(str(error)) from error
    if chosen == "embedded":
        from opendepin.chain.embedded import EmbeddedBackend

        return EmbeddedBackend(Path(data_dir), keys, clock=clock, read_only=read_only)
    if chosen == "rpc":
        from opendepin.chain.rpc import RpcBackend

        return RpcBackend(Path(data_dir), keys, rpc_url or config.rpc_url, confirmations=config.confirmations)
    raise ChainError(f"chain kind {chosen!r} has no backend; use 'embedded' or 'rpc'")
