"""What the explorer reads from the settlement chain: the root posted for an epoch, the token supply."""

from __future__ import annotations

import threading
from typing import Protocol

from opendepin.chain.backend import ChainBackend, ChainError


class ChainView(Protocol):
    """Read-only access to the chain the node settles on."""

    name: str
    """What the page calls the chain (e.g. `embedded`, `rpc`)."""

    def epoch_root(self, epoch: int) -> str | None:
        """The 0x root posted for `epoch`, None if none is posted yet."""

    def total_supply(self) -> int | None:
        """The token's total supply on chain (smallest units), None if unreadable."""


class BackendChainView:
    """A `ChainView` over a chain backend; one call at a time (the embedded EVM is not thread-safe)."""

    def __init__(self, backend: ChainBackend, name: str) -> None:
        self.backend = backend
        self.name = name
        self._lock = threading.Lock()

    def epoch_root(self, epoch: int) -> str | None:
        with self._lock:
            try:
                root = self.backend.epoch_root(epoch)
            except ChainError:
                return None
        return None if root is None else "0x" + root.hex()

    def total_supply(self) -> int | None:
        with self._lock:
            try:
                return self.backend.total_supply()
            except ChainError:
                return None
