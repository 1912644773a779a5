"""Real processes for the end-to-end storage tests: `depin serve` on an embedded chain where the client has
bought data credits, and provider agents (`depin provider storage`), each on its own port and /24."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from opendepin.chain.cli import chain_app, claim_command, credits_app
from opendepin.chain.factory import open_backend
from opendepin.config import ChainConfig
from opendepin.identity.keystore import data_dir_keystore, data_dir_password
from opendepin.identity.wallets import Wallet
from tests.chain.helpers import build_tree

REPO = Path(__file__).resolve().parents[3]
UNIT = 10**18
MAKER = Wallet(b"\x07" * 32)
OWNER = Wallet(b"\x08" * 32)
CLIENT = Wallet(b"\x09" * 32)
PROVIDER_MAIN = "from opendepin.sectors.storage.cli import provider_app; provider_app()"
NODE_MAIN = "from opendepin.cli import main; main()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def network_toml(k: int, n: int) -> str:
    """examples/storage.toml with genesis today, audits every minute with every stripe asked, pieces
    tied to their receipts, our maker."""
    text = (REPO / "examples" / "storage.toml").read_text()
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT00:00:00Z")
    replaced = {
        "genesis = 2026-01-01T00:00:00Z": f"genesis = {today}",
        "k = 4 ": f"k = {k} ",
        "n = 10": f"n = {n}",
        "repair_threshold = 6 ": f"repair_threshold = {k + 1} ",
        "audit_period_s = 3600": "audit_period_s = 60",
        "stripe_audit_rate = 0.05": "stripe_audit_rate = 1.0",
        "latency_bound_s = 3600": "latency_bound_s = 10",
        "timeout_s = 3600": "timeout_s = 120",
    }
    for old, new in replaced.items():
        assert old in text, old
        text = text.replace(old, new)
    return text + f'\n[[makers]]\nname = "test-maker"\naddress = "{MAKER.address}"\n'


def fund_client(data: Path, usd: str = "50") -> int:
    """Deploy the embedded chain, give CLIENT tokens through a posted root, claim, buy data credits."""
    app = typer.Typer()
    app.add_typer(chain_app, name="chain")
    app.add_typer(credits_app, name="credits")
    app.command("claim")(claim_command)
    runner = CliRunner()

    def run(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    run("chain", "deploy", "--data-dir", str(data))
    amount = 1_000 * UNIT
    tree = build_tree([(CLIENT.address, amount), (OWNER.address, UNIT)])
    # the chain's clock a day ahead: epoch 0 (genesis today) has ended for the distributor
    with open_backend(data, ChainConfig(), clock=lambda: int(time.time()) + 86_400) as chain:
        chain.post_epoch(0, tree.root, b"\x02" * 32, amount + UNIT)
    data_dir_keystore(data).save("client", CLIENT.private_key, data_dir_password(data))
    proof = json.dumps(["0x" + p.hex() for p in tree.proof(CLIENT.address, amount)])
    run("claim", "--owner", "client", "--cumulative", str(amount), "--proof", proof, "--data-dir", str(data))
    # the post moved the chain a day ahead: the deployment's price ($1) is then a day old, stale as soon as
    # deployment and post fell in different seconds; a fresh price (the same) before buying
    run("chain", "price", "--usd", "1", "--data-dir", str(data))
    bought = run("credits", "buy", "--usd", usd, "--buyer", CLIENT.address, "--data-dir", str(data))
    return int(bought["credits"])


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def launch(args: list[str], url: str, log: Path) -> Proc:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    return Proc(process, url, log)


def wait_ready(proc: Proc, ready: str, deadline_s: float = 120) -> Proc:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.get(proc.url + ready, timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if not proc.alive() or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"{proc.log} did not start:\n{proc.log.read_text()[-3000:]}")
        time.sleep(0.25)


def spawn(args: list[str], url: str, log: Path, ready: str) -> Proc:
    return wait_ready(launch(args, url, log), ready)


def start_node(data: Path) -> Proc:
    port = free_port()
    args = [NODE_MAIN, "serve", "--data-dir", str(data), "--port", str(port), "--chain", "embedded"]
    return spawn(args, f"http://127.0.0.1:{port}", data / "serve.log", "/v1/sectors/storage/rules")


def start_providers(root: Path, node: str, count: int) -> list[Proc]:
    """`count` providers started together (each onboards itself), returned once all answer."""
    procs = [start_provider(root, node, number, wait=False) for number in range(count)]
    return [wait_ready(p, "/info") for p in procs]


def start_provider(root: Path, node: str, number: int, wait: bool = True) -> Proc:
    port = free_port()
    directory = root / f"provider-{number}"
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        PROVIDER_MAIN,
        "--dir",
        str(directory),
        "--node",
        node,
        "--port",
        str(port),
        "--prefix",
        f"10.{number}.0.0/24",
        "--owner-key",
        OWNER.private_key.hex(),
        "--maker-key",
        MAKER.private_key.hex(),
        "--poll",
        "1",
    ]
    proc = launch(args, f"http://127.0.0.1:{port}", directory / "agent.log")
    return wait_ready(proc, "/info") if wait else proc
