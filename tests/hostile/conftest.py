"""A real node server (`depin serve`, uvicorn) in its own process, for tests that must prove it survives."""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from opendepin.template import write_template


@dataclass
class ServedNode:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    """`depin serve` on a fresh data dir whose genesis is today (so no backlog of epochs to close)."""
    data = tmp_path_factory.mktemp("served")
    write_template(data)
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT00:00:00Z")
    config = data / "network.toml"
    config.write_text(config.read_text().replace("genesis = 2026-01-01T00:00:00Z", f"genesis = {today}"))
    port = _free_port()
    log = data / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from opendepin.cli import main; main()",
                "serve",
                "--data-dir",
                str(data),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )
    node = ServedNode(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(node.url + "/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not node.alive() or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"depin serve did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield node
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
