"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis, in-process over ASGI): thousands of
generated requests, valid and invalid by the schema, with hostile CBOR batches — not one 5xx, nothing
stored from garbage; then a share of the same generated requests against the real server process, which
must stay alive."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request
from tests.hostile.conftest import ServedNode

EXAMPLES_PER_OPERATION_AND_MODE = 250
"""7 operations with parameters or a body × 2 generation modes × 250 ≈ 3,500 requests in process."""
KEY = DeviceKey("ed25519", bytes.fromhex("44" * 32))


def _signed(ts: int, seq: int, lat: object) -> bytes:
    return sign_report(KEY, HEARTBEAT, ts, seq, {"lat": lat, "lon": 13.4}).to_wire()


def _cbor_batches(now: int) -> st.SearchStrategy[bytes]:
    """Hostile and plausible CBOR batch bodies."""
    wires = st.one_of(
        st.binary(max_size=64),
        st.builds(_signed, st.integers(now - 10_000, now + 10_000), st.integers(0, 2**63 - 1), st.floats()),
        st.builds(_signed, st.just(now), st.integers(0, 50), st.sampled_from(["52.5", True, b"x", 52])),
    )
    return st.one_of(
        st.binary(max_size=256),
        st.lists(wires, max_size=6).map(cbor2.dumps),
        st.lists(wires, max_size=6).map(lambda ws: cbor2.dumps(ws) + b"\x00"),
        st.integers(1, 5_000).map(lambda depth: b"\x81" * depth + b"\x40"),
        st.integers(1, 5_000).map(lambda depth: b"\xd8\x23" * depth),
    )


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, Any]:
    config = NetworkConfig(makers=[MakerConfig(name="fuzz", address=MAKER.address)])
    config = config.model_copy(
        update={"ingest": config.ingest.model_copy(update={"rejection_burst": 10**9})}
    )  # the fuzzer's garbage would otherwise be rate limited (429) and reach the gate less often
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    store = SQLiteStore(Path(tmp_path_factory.mktemp("fuzz")) / "depin.sqlite")
    node = Node(config, store, clock)
    node.onboard(onboard_request(config.name, KEY))
    schemathesis.openapi.media_type("application/cbor", _cbor_batches(clock.now()))
    return node, schemathesis.openapi.from_asgi("/openapi.json", create_app(node))


def _fuzz(schema: Any, send: Callable[[Any], int], examples: int) -> Counter[str]:
    """Every operation of the schema, positive and negative generation (where the schema leaves anything
    to get wrong); counts answers by status class and by operation."""
    seen: Counter[str] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(operation.as_strategy(generation_mode=mode), operation.label, send, examples, seen)
    return seen


def _fuzz_one(
    cases: st.SearchStrategy[Any], label: str, send: Callable[[Any], int], examples: int, seen: Counter[str]
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        status = send(case)
        if status < 0:
            seen["unsendable"] += 1
            return
        seen[f"{status // 100}xx"] += 1
        seen[label] += 1
        assert status < 500, f"{label}: {status} for {case.path_parameters} {case.query} {case.body!r:.200}"

    with contextlib.suppress(Unsatisfiable):  # nothing to get wrong (no parameters): no negative case
        run()


def _sender(client: httpx.Client | TestClient, base_url: str | None = None) -> Callable[[Any], int]:
    """Send a generated case through one persistent client; -1 if the client cannot even build the request
    (a header value that is not Latin-1, say): such a case never reaches the server."""

    def send(case: Any) -> int:
        kwargs = case.as_transport_kwargs(base_url=base_url)
        body: dict[str, Any] = {}
        if "json" in kwargs:
            body["json"] = kwargs["json"]
        elif kwargs.get("data") is not None:
            data = kwargs["data"]
            body["content"] = data if isinstance(data, bytes) else str(data).encode()
        try:
            request = client.build_request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=kwargs.get("headers"),
                **body,
            )
        except (httpx.HTTPError, ValueError, TypeError):
            return -1
        return client.send(request).status_code

    return send


def test_api_fuzz_in_process(fuzzed: tuple[Node, Any]) -> None:
    node, schema = fuzzed
    with TestClient(schema.app, raise_server_exceptions=False) as client:
        seen = _fuzz(schema, _sender(client), EXAMPLES_PER_OPERATION_AND_MODE)
    requests = seen["2xx"] + seen["3xx"] + seen["4xx"] + seen["5xx"]
    print(f"\nAPI fuzzing in process: {requests} requests, {seen['5xx']} 5xx, {dict(seen)}")
    assert seen["5xx"] == 0
    assert requests >= 3_000
    assert seen["POST /v1/reports"] >= 400 and seen["POST /v1/devices"] >= 400
    assert node.store.count_reports(0, 2**62) <= seen["2xx"]  # only the device's own signed reports


def test_api_fuzz_against_the_real_server(fuzzed: tuple[Node, Any], served_node: ServedNode) -> None:
    _node, schema = fuzzed
    with httpx.Client(timeout=30) as client:
        seen = _fuzz(schema, _sender(client, served_node.url), 15)
    requests = seen["2xx"] + seen["3xx"] + seen["4xx"] + seen["5xx"]
    print(f"\nAPI fuzzing the served node: {requests} requests, {seen['5xx']} 5xx")
    assert seen["5xx"] == 0 and requests >= 150
    assert served_node.alive()
    assert httpx.get(served_node.url + "/v1/health", timeout=10).status_code == 200
