"""What the explorer reads from the settlement chain: the root posted for an epoch, the token supply."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from opendepin.chain.backend import ChainBackend, ChainError


class ChainView(Protocol):
    """Read-only access to the chain the node settles on."""

    @property
    def name(self) -> str:
        """What the page calls the chain (e.g. `embedded`, `rpc`)."""

    def epoch_root(self, epoch: int) -> str | None:
        """The 0x root posted for `epoch`, None if none is posted yet (or the chain is unreachable)."""

    def total_supply(self) -> int | None:
        """The token's total supply on chain (smallest units), None if unreadable."""


class BackendChainView:
    """A `ChainView` over a chain backend, one call at a time under `lock` (the embedded EVM is not
    thread-safe: give the lock every other user of the backend holds). `backend` is the backend or a
    function returning it, None while the chain is not connected yet (`depin serve` connects in the
    background): every read answers None until then."""

    def __init__(
        self,
        backend: ChainBackend | Callable[[], ChainBackend | None],
        name: str,
        lock: threading.Lock | None = None,
    ) -> None:
        self._backend = backend if callable(backend) and not isinstance(backend, ChainBackend) else None
        self._fixed = backend if isinstance(backend, ChainBackend) else None
        self.name = name
        self._lock = lock or threading.Lock()

    def backend(self) -> ChainBackend | None:
        return self._fixed if self._backend is None else self._backend()

    def epoch_root(self, epoch: int) -> str | None:
        backend = self.backend()
        if backend is None:
            return None
        with self._lock:
            try:
                root = backend.epoch_root(epoch)
            except ChainError:
                return None
        return None if root is None else "0x" + root.hex()

    def total_supply(self) -> int | None:
        backend = self.backend()
        if backend is None:
            return None
        with self._lock:
            try:
                return backend.total_supply()
            except ChainError:
                return None
