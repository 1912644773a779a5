"""The JavaScript reference client (clients/js): it reproduces docs/devices.md's test vectors (`node --test`),
and a device it runs is onboarded, has its heartbeats and speed tests accepted by `depin serve` on wall-clock
time, and is paid when the epoch closes; re-sent sequence numbers are refused as `report.replay`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3
import httpx
import pytest

from opendepin.identity.wallets import Wallet

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "js"
DEPIN = Path(os.environ.get("DEPIN_BIN", ROOT / ".venv" / "bin" / "depin"))
EPOCH_SECONDS = 60


@pytest.fixture(scope="module")
def node_js() -> str:
    """`node`, with the client's npm packages installed (`make test` installs them; else they are installed
    here from clients/js/package-lock.json)."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the JavaScript client (see README)"
    if not (CLIENT / "node_modules" / "@noble" / "curves").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install the JavaScript client's packages"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CLIENT, check=True, timeout=300
        )
    return node


def test_js_client_reproduces_the_test_vectors(node_js: str) -> None:
    result = subprocess.run(
        [node_js, "--test", "test/"], cwd=CLIENT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M) and re.search(r"^# pass [1-9]", result.stdout, re.M)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MAKER, OWNER = Wallet(bytes.fromhex("a1" * 32)), Wallet(bytes.fromhex("b2" * 32))
DEVICE_SECRET = "c3" * 32


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`depin serve` on a network of one-minute epochs whose epoch 0 ends about 30 s from now, accepting
    the test's maker. Yields (base URL, genesis)."""
    data = tmp_path_factory.mktemp("js-serve")
    subprocess.run([str(DEPIN), "init", str(data)], check=True, capture_output=True, timeout=120)
    genesis = int(time.time()) + 30 - EPOCH_SECONDS
    toml = (data / "network.toml").read_text()
    stamp = datetime.fromtimestamp(genesis, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    toml = re.sub(r"(?m)^length_seconds = \d+", f"length_seconds = {EPOCH_SECONDS}", toml, count=1)
    toml = re.sub(r"(?m)^genesis = \S+", f"genesis = {stamp}", toml, count=1)
    toml = re.sub(r"(?m)^lateness_seconds = \d+", "lateness_seconds = 1", toml, count=1)
    toml += f'\n[[makers]]\nname = "js-maker"\naddress = "{MAKER.address}"\n'
    (data / "network.toml").write_text(toml)
    port = _free_port()
    server = subprocess.Popen(
        [str(DEPIN), "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (
                f"depin serve exited: {server.stderr.read()[-2000:] if server.stderr else ''}"
            )
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "depin serve did not answer /v1/health within 60 s"
            time.sleep(0.3)
        yield url, genesis
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _device(node_js: str, url: str, *args: str) -> tuple[int, dict[str, Any]]:
    lat, lon = h3.cell_to_latlng(CELL)
    env = {
        **os.environ,
        "DEPIN_DEVICE_SECRET": DEVICE_SECRET,
        "DEPIN_MAKER_SECRET": MAKER.private_key.hex(),
        "DEPIN_OWNER_SECRET": OWNER.private_key.hex(),
    }
    command = [node_js, "bin/device.mjs", "--node", url, "--network", "opendepin-local", "--cell", CELL]
    command += ["--lat", repr(lat), "--lon", repr(lon), *args]
    result = subprocess.run(command, cwd=CLIENT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


CELL = h3.latlng_to_cell(52.5200, 13.4050, 12)


def test_js_device_is_onboarded_accepted_and_paid(node_js: str, served: tuple[str, int]) -> None:
    url, genesis = served
    code, run = _device(node_js, url, "--heartbeats", "3", "--speedtests", "2", "--seq", "100")
    assert code == 0, run
    assert run["onboarding"]["status"] == 201, run["onboarding"]
    device_id = run["device_id"]
    assert device_id.startswith("ed25519:") and run["onboarding"]["body"]["location"] == CELL
    statuses = [r["status"] for r in run["reports"]["body"]["results"]]
    assert statuses == ["accepted"] * 5, run["reports"]
    assert [r["report_id"] for r in run["reports"]["body"]["results"]] == run["report_ids"]

    code, again = _device(
        node_js, url, "--no-onboard", "--heartbeats", "1", "--speedtests", "0", "--seq", "50"
    )
    assert code == 0 and [r["status"] for r in again["reports"]["body"]["results"]] == ["report.replay"]

    epoch = (int(time.time()) - genesis) // EPOCH_SECONDS  # the reports' epoch (they were just sent)
    deadline = time.monotonic() + 180
    while httpx.get(f"{url}/v1/epochs/{epoch}", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, f"epoch {epoch} did not close within 180 s"
        time.sleep(1)
    explained = httpx.get(f"{url}/v1/devices/{device_id}/explain", params={"epoch": epoch}, timeout=30)
    assert explained.status_code == 200, explained.text
    detail = explained.json()
    assert int(detail["amount"]) > 0, detail  # base units, as exact text
    assert detail["ingest"]["counted"].get("report.replay") == 1, detail["ingest"]
