"""Start and stop a local anvil node on a free loopback port (tests, and `depin up --chain rpc` users).

    with AnvilNode.start() as node:
        backend = RpcBackend(data_dir, keys, node.url)
        node.set_balance(address, 10**20)

anvil comes from `npm install` in tools/js (see the Makefile) or from Foundry on the PATH.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendepin.chain.backend import ChainError

_REPO_ANVIL = Path(__file__).resolve().parents[3] / "tools" / "js" / "node_modules" / ".bin" / "anvil"


class AnvilNotFoundError(ChainError):
    """No anvil binary could be found."""


def find_anvil() -> str:
    """Path of the anvil binary: tools/js/node_modules/.bin/anvil, else `anvil` on the PATH."""
    if _REPO_ANVIL.exists():
        return str(_REPO_ANVIL)
    found = shutil.which("anvil")
    if found is None:
        raise AnvilNotFoundError(
            "anvil not found: run `npm install` in tools/js (or `make test`), or install Foundry"
        )
    return found


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process; always `stop()` it (or use it as a context manager)."""

    process: subprocess.Popen[bytes]
    port: int
    chain_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        chain_id: int = 31_337,
        timeout_seconds: float = 30.0,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> AnvilNode:
        """Start anvil on a free loopback port and wait until it answers JSON-RPC.

        `extra_args` go to anvil as they are, e.g. ("--block-time", "1") or ("--no-mining",).
        """
        exe = binary or find_anvil()
        for _ in range(3):  # another process may grab the port between probe and bind
            port = free_port()
            process = subprocess.Popen(
                [
                    exe,
                    *("--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), "--silent"),
                    *extra_args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            node = cls(process, port, chain_id)
            deadline = time.monotonic() + timeout_seconds
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    node.request("eth_chainId", [])
                    return node
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.05)
            node.stop()
        raise ChainError(f"anvil ({exe}) did not start on 127.0.0.1 within {timeout_seconds:.0f} s")

    def request(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as response:
            reply = json.loads(response.read())
        if "error" in reply:
            raise ChainError(f"anvil {method}: {reply['error']}")
        return reply["result"]

    def mine(self, blocks: int = 1) -> None:
        """Mine `blocks` blocks now (anvil_mine)."""
        self.request("anvil_mine", [hex(blocks)])

    def set_balance(self, address: str, wei: int) -> None:
        """Give `address` native coin for gas (anvil_setBalance)."""
        self.request("anvil_setBalance", [address, hex(wei)])

    def stop(self) -> None:
        """Terminate anvil (kill after 5 s) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
