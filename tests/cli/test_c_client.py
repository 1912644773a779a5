"""The C device client (clients/c): built with the system compiler against OpenSSL's libcrypto, it reproduces
docs/devices.md's Ed25519 report vector and the P-256 vector's envelope bytes, encodes numbers exactly as
cbor2's deterministic encoder does, and its signed heartbeats are accepted by a node over HTTP."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cbor2
import h3
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.api.app import create_app
from opendepin.cli.devices_doc import device_vectors
from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import Envelope, encode_envelope
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import CELL, MAKER, onboard_request

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "clients" / "c" / "device.c", ROOT / "clients" / "c" / "depin_report.c"]


@pytest.fixture(scope="module")
def device_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler is not None, "a C compiler is needed to build clients/c"
    out = tmp_path_factory.mktemp("c-client") / "device"
    flags = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-Wall", "-Wextra", "-Werror"]
    result = subprocess.run(
        [compiler, *flags, "-o", str(out), *map(str, SOURCES), "-lcrypto", "-lm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def _run(binary: Path, *args: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"DEPIN_DEVICE_SECRET": secret} if secret else {})}
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=60)


def _fields(payload: dict[str, float]) -> list[str]:
    return [f"{key}={value!r}" for key, value in payload.items()]


def test_c_client_reproduces_the_vectors(device_bin: Path) -> None:
    heartbeat, speedtest = device_vectors()["reports"]
    env = heartbeat["envelope"]
    signed = _run(
        device_bin,
        "sign",
        env["kind"],
        str(env["ts"]),
        str(env["seq"]),
        *_fields(env["payload"]),
        secret=heartbeat["secret"],
    )
    assert signed.returncode == 0, signed.stderr
    out = json.loads(signed.stdout)
    for name in ("device_id", "envelope_cbor", "signature", "report_id", "wire"):
        assert out[name] == heartbeat[name], name
    env = speedtest["envelope"]
    envelope = _run(
        device_bin,
        "envelope",
        env["device"],
        env["kind"],
        str(env["ts"]),
        str(env["seq"]),
        *_fields(env["payload"]),
    )
    assert envelope.returncode == 0 and envelope.stdout.strip() == speedtest["envelope_cbor"]


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
SMALL = st.sampled_from(
    [0.5, 1.5, 18.75, 65504.0, 65504.5, 5.960464477539063e-8, 6.103515625e-05, -0.0, 1e300]
)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.one_of(FINITE, SMALL, st.integers(-(2**53), 2**53).map(float)), min_size=1, max_size=24))
def test_c_numbers_match_the_nodes_deterministic_cbor(device_bin: Path, values: list[float]) -> None:
    """Integral numbers go as integers (what a device whose language has one number type sends), others as
    the shortest float that holds them: the node's encoder gives the same bytes."""
    payload = {f"k{i}": value for i, value in enumerate(values)}
    expected_payload = {key: _as_device_sends(value) for key, value in payload.items()}
    expected = encode_envelope(Envelope("x.y", "ed25519:00", 1, 2, expected_payload))
    result = _run(device_bin, "envelope", "ed25519:00", "x.y", "1", "2", *_fields(payload))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected.hex()
    assert cbor2.loads(bytes.fromhex(result.stdout.strip()))["payload"] == expected_payload


def _as_device_sends(value: float) -> int | float:
    """An integral number below 2^53 in magnitude (not -0.0) as an integer, anything else as a float."""
    negative_zero = value == 0 and math.copysign(1, value) < 0
    return int(value) if value == math.floor(value) and abs(value) < 2**53 and not negative_zero else value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_node(tmp_path: Path) -> Iterator[tuple[Node, int]]:
    """A node on the wall clock serving HTTP on a free loopback port (uvicorn in a thread)."""
    config = NetworkConfig(makers=[MakerConfig(name="test-maker", address=MAKER.address)])
    store = SQLiteStore(tmp_path / "depin.sqlite3")
    node = Node(config, store, SystemClock())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the node did not start"
        time.sleep(0.05)
    try:
        yield node, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_c_device_heartbeats_are_accepted(device_bin: Path, live_node: tuple[Node, int]) -> None:
    node, port = live_node
    secret = "d4" * 32
    key = DeviceKey("ed25519", bytes.fromhex(secret))
    node.onboard(onboard_request(node.config.name, key))  # the maker's and the owner's part
    lat, lon = h3.cell_to_latlng(CELL)
    position = [f"lat={lat!r}", f"lon={lon!r}"]
    sent = _run(
        device_bin, "send", "127.0.0.1", str(port), "wireless.heartbeat", "3", "10", *position, secret=secret
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    answer = json.loads(sent.stdout)
    assert answer["status"] == 200 and answer["body"]["accepted"] == 3, answer
    assert [r["status"] for r in answer["body"]["results"]] == ["accepted"] * 3
    again = _run(
        device_bin, "send", "127.0.0.1", str(port), "wireless.heartbeat", "1", "5", *position, secret=secret
    )
    statuses = [r["status"] for r in json.loads(again.stdout)["body"]["results"]]
    assert statuses == ["report.replay"], again.stdout
    assert node.store.get_device(key.device_id) is not None
