"""Real processes for the compute end-to-end test: `depin serve` on an embedded chain where the tenant and
the providers' owners hold data credits, `depin provider compute` agents, and the tenant's `depin compute`
commands, each a separate Python process (the commands exactly as docs/compute.md's "Running it" gives them).

The network is examples/compute.toml made quick: one-minute epochs from a genesis the test picks, a 4 s bid
window, audit seeds every 10 s, no capacity challenges or canaries (the in-process test covers those)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.factory import open_backend
from opendepin.config import load_config

REPO = Path(__file__).resolve().parents[3]
DEPIN = "from opendepin.cli import main; main()"
DEV_MAKER_KEY = "11" * 32  # examples/compute.toml's development maker
TOKENS = 10**6 * 10**18  # the operator's treasury at deployment, as `depin up` mints one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def network_toml(genesis: int, epoch_s: int = 60) -> str:
    """examples/compute.toml with epochs of `epoch_s` from `genesis`, short windows, no hourly challenges."""
    text = (REPO / "examples" / "compute.toml").read_text()
    stamp = datetime.datetime.fromtimestamp(genesis, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    replaced = {
        "genesis = 2026-01-01T00:00:00Z": f"genesis = {stamp}",
        "length_seconds = 86400 ": f"length_seconds = {epoch_s} ",
        "lateness_seconds = 600": "lateness_seconds = 2",
        # bids are open for this long after the order's own time: the submitting CLI's start and the
        # providers' polling loop (their capacity proofs run in it) must fit in it on a loaded CI machine
        "bid_window_s = 30 ": "bid_window_s = 12 ",
        "audit_period_s = 3600 ": "audit_period_s = 10 ",
        "[sectors.compute.capacity]\nenabled = true": "[sectors.compute.capacity]\nenabled = false",
        "[sectors.compute.canary]      # small jobs with known answers\nenabled = true": (
            "[sectors.compute.canary]\nenabled = false"
        ),
    }
    for old, new in replaced.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def fund(data: Path, credits_for: dict[str, str]) -> None:
    """Deploy the embedded chain with a treasury for the operator, and buy data credits from it for each
    address (USD amount each), as `depin credits buy --usd X --to ADDRESS` would."""
    config = load_config(data / "network.toml")
    with open_backend(data, config.chain) as backend:
        ensure_deployed(backend, config, genesis_amount=TOKENS)
        for address, usd in credits_for.items():
            backend.buy_credits(usd, recipient=address)


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill9(self) -> list[int]:
        """SIGKILL the process, its process group (its hashing workers) and its sandboxed jobs (each in a
        session of its own): the machine is gone. Returns the sandbox pids killed."""
        jobs = children(self.process.pid)
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in jobs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        return jobs

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc) that lead a session of their own: the agent's sandboxes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, session = int(fields[1]), int(fields[3])
        if ppid == pid and session == int(entry.name):
            found.append(int(entry.name))
    return found


def launch(args: list[str], log: Path) -> Proc:
    """`depin ARGS` in a new session, output to `log` unbuffered."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", DEPIN, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    return Proc(process, log)


def depin(*args: str, timeout: float = 60) -> str:
    """Run `depin ARGS` to completion; its stdout (fails with its output)."""
    done = subprocess.run(
        [sys.executable, "-c", DEPIN, *args],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=timeout,
    )
    assert done.returncode == 0, (args, done.stdout.decode(), done.stderr.decode())
    return done.stdout.decode()


def wait_for(what: str, check: Callable[[], Any], deadline_s: float, procs: Sequence[Proc] = ()) -> Any:
    """Poll `check()` until it returns something truthy; fail with the processes' logs after `deadline_s`
    (or as soon as one of them died)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            value = check()
        except httpx.TransportError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline or any(not p.alive() for p in procs):
            logs = "\n".join(f"--- {p.log}\n{p.text()[-3000:]}" for p in procs)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.2)


def start_node(data: Path) -> tuple[Proc, str]:
    """`depin serve --chain embedded` closing epochs as soon as they are due (scheduler every second)."""
    port = free_port()
    (data / "serve.json").write_text(json.dumps({"scheduler_interval": 1.0, "settle_interval": 1.0}))
    node = launch(
        ["serve", "--data-dir", str(data), "--port", str(port), "--chain", "embedded"], data / "serve.log"
    )
    url = f"http://127.0.0.1:{port}"
    wait_for("the node", lambda: httpx.get(url + "/v1/health", timeout=2).status_code == 200, 120, [node])
    return node, url
