"""Open the chain backend a data dir and a `ChainConfig` call for (issue 3, "Python side")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from opendepin.chain.backend import ChainBackend, ChainError
from opendepin.chain.keys import load_or_create_keys
from opendepin.config import ChainConfig
from opendepin.identity.keystore import KeystoreError


def open_backend(
    data_dir: Path,
    config: ChainConfig,
    *,
    kind: str | None = None,
    rpc_url: str | None = None,
    clock: Callable[[], int] | None = None,
) -> ChainBackend:
    """The embedded or rpc backend for `data_dir`; `kind`/`rpc_url` override the config (CLI flags).

    The data dir's keystore gets any missing role key (see `opendepin.chain.keys`); a keystore problem
    (no password, a wrong one, plain-text keys of an older version) is raised as a ChainError.
    """
    chosen = kind or config.kind
    try:
        keys = load_or_create_keys(Path(data_dir), config.oracle_count, config.oracle_threshold)
    except KeystoreError as error:
        raise ChainError(str(error)) from error
    if chosen == "embedded":
        from opendepin.chain.embedded import EmbeddedBackend

        return EmbeddedBackend(Path(data_dir), keys, clock=clock)
    if chosen == "rpc":
        from opendepin.chain.rpc import RpcBackend

        return RpcBackend(Path(data_dir), keys, rpc_url or config.rpc_url, confirmations=config.confirmations)
    raise ChainError(f"chain kind {chosen!r} has no backend; use 'embedded' or 'rpc'")
