"""Hardening of the HTTP API (issue 11): bounded integers, bounded JSON, one error shape with a reason
code, and the per-source rate limit on rejected reports (429 + Retry-After)."""

from __future__ import annotations

import json

import cbor2
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.api.bounded import json_depth_exceeds, json_problem
from opendepin.api.deps import SMALL_BODY_LIMIT
from opendepin.api.ratelimit import Bucket, RateLimiter, refill, source_of, wait_seconds
from opendepin.clock import SimulatedClock
from opendepin.config import NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import onboard_request

CBOR = {"content-type": "application/cbor"}
JSON = {"content-type": "application/json"}
TOO_BIG = [str(2**63), str(2**64), str(-(2**63) - 1), "1" + "0" * 40]


@pytest.fixture
def client(node: Node) -> TestClient:
    return TestClient(create_app(node), raise_server_exceptions=False)


def _reason(response: object) -> str:
    return str(response.json()["detail"]["reason"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("number", TOO_BIG)
def test_huge_epoch_numbers_are_422_not_500(client: TestClient, number: str) -> None:
    """The reproduced finding: OverflowError from SQLite (500) for any value ≥ 2^63 or < −2^63."""
    for path in (
        f"/v1/epochs/{number}",
        f"/v1/epochs/{number}/proof/0x{'11' * 20}",
        f"/v1/devices/x/explain?epoch={number}",
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert _reason(response) == "request.invalid"


def test_largest_stored_integer_is_a_clean_404(client: TestClient) -> None:
    response = client.get(f"/v1/epochs/{2**63 - 1}")
    assert response.status_code == 404 and _reason(response) == "epoch.not_closed"


def test_proof_of_something_that_is_not_an_address(client: TestClient) -> None:
    response = client.get("/v1/epochs/0/proof/nonsense")
    assert response.status_code == 422 and _reason(response) == "address.invalid"
    assert "not an EVM address" in response.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [
        ("get", "/v1/nowhere", {}, 404, "not_found"),
        ("delete", "/v1/health", {}, 405, "request.method_not_allowed"),
        ("post", "/v1/reports", {"content": b"x", "headers": {"content-type": "text/plain"}}, 415, None),
        ("post", "/v1/reports", {"content": b"\xff", "headers": CBOR}, 400, "batch.malformed"),
        ("post", "/v1/reports", {"content": b"{", "headers": JSON}, 400, "batch.malformed"),
        ("post", "/v1/reports", {"content": b'{"reports": [1]}', "headers": JSON}, 400, "batch.malformed"),
        ("post", "/v1/devices", {"json": {"device_id": 1}}, 422, "request.invalid"),
        ("post", "/v1/devices", {"content": b"[" * 40 + b"]" * 40, "headers": JSON}, 400, "request.too_deep"),
        ("post", "/v1/reports", {"content": b'["\xff"]', "headers": JSON}, 400, "request.not_utf8"),
        (
            "post",
            "/v1/devices",
            {"content": "[[]]".encode("utf-16"), "headers": JSON},
            400,
            "request.not_utf8",
        ),
        ("post", "/v1/devices", {"content": b"\x00[]", "headers": JSON}, 400, "request.not_utf8"),
    ],
)
def test_every_error_carries_a_reason_code(
    client: TestClient, method: str, path: str, kwargs: dict[str, object], status: int, reason: str | None
) -> None:
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert _reason(response) == (reason or "request.unsupported_media_type")
    assert response.json()["detail"]["message"]


def test_json_depth_within_the_bound_is_parsed(client: TestClient) -> None:
    body = {"reports": [], "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    response = client.post("/v1/reports", content=json.dumps(body).encode(), headers=JSON)
    assert response.status_code == 200 and response.json()["results"] == []


def test_oversized_json_is_413_before_it_is_read(node: Node) -> None:
    small = node.config.model_copy(
        update={"ingest": node.config.ingest.model_copy(update={"max_batch": 1, "max_report_bytes": 128})}
    )
    client = TestClient(create_app(Node(small, node.store, node.clock)), raise_server_exceptions=False)
    response = client.post("/v1/reports", content=b" " * 2_000, headers=JSON)
    assert response.status_code == 413 and _reason(response) == "request.too_large"
    response = client.post("/v1/devices", content=b" " * (SMALL_BODY_LIMIT + 1), headers=JSON)
    assert response.status_code == 413 and _reason(response) == "request.too_large"


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"[" * 33, True),
        (b"[" * 32 + b"]" * 32, False),
        (b'["' + b"[" * 100 + b'"]', False),  # brackets inside a string
        (b'["\\"' + b"[" * 100 + b'"]', False),  # an escaped quote does not end the string
        (b'["\\\\"' + b"[" * 100, True),  # an escaped backslash does
        (b'"' + b"[" * 100, False),  # an unterminated string never nests
        (b"[]" * 100_000, False),
        (b"{" * 33, True),
    ],
)
def test_json_depth_scan(body: bytes, deep: bool) -> None:
    assert json_depth_exceeds(body, 32) is deep
    assert (json_problem(body) is not None) is deep


def test_rate_limit_rules() -> None:
    assert refill(Bucket(-5, 100), 103, rate=2, burst=10) == Bucket(1, 103)
    assert refill(Bucket(9, 100), 200, rate=2, burst=10) == Bucket(10, 200)
    assert refill(Bucket(3, 100), 90, rate=2, burst=10) == Bucket(3, 100)  # clock went back
    assert wait_seconds(Bucket(1, 0), rate=2) == 0
    assert wait_seconds(Bucket(0, 0), rate=2) == 1
    assert wait_seconds(Bucket(-10, 0), rate=2) == 6
    assert source_of("192.0.2.1") == "http:192.0.2.1"
    assert source_of("2001:db8:1:2:3:4:5:6") == source_of("2001:db8:1:2::9") == "http:2001:db8:1:2::/64"
    assert source_of("::ffff:192.0.2.1") == "http:192.0.2.1"
    assert source_of(None) == "http:unknown"


def test_rate_limiter_table_is_bounded() -> None:
    now = [0]
    limiter = RateLimiter(rate=1, burst=10, max_sources=100, clock=lambda: now[0])
    for i in range(1_000):
        limiter.charge(f"s{i}", 20)
    assert len(limiter) <= 100
    assert limiter.retry_after("s999") == 11


def _limited_client(config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock) -> TestClient:
    tuned = config.model_copy(
        update={"ingest": config.ingest.model_copy(update={"rejection_burst": 5, "rejections_per_second": 1})}
    )
    return TestClient(create_app(Node(tuned, store, clock)), client=("203.0.113.5", 4000))


def test_a_source_that_causes_too_many_rejections_gets_429(
    config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock, device_key: DeviceKey
) -> None:
    client = _limited_client(config, store, clock)
    client.app.state.node.onboard(onboard_request(config.name, device_key))  # type: ignore[attr-defined]
    junk = cbor2.dumps([b"junk"] * 3)
    assert client.post("/v1/reports", content=junk, headers=CBOR).json()["rejected"] == 3
    assert client.post("/v1/reports", content=junk, headers=CBOR).json()["rejected"] == 3  # 5 - 6 = -1
    limited = client.post("/v1/reports", content=junk, headers=CBOR)
    assert limited.status_code == 429 and _reason(limited) == "ingest.rate_limited"
    assert limited.headers["retry-after"] == "2"
    assert store.rejection_counts(0, 2**62) == {"report.malformed": 6}  # the refused batch was not read
    other = TestClient(client.app, client=("198.51.100.1", 4000))
    assert other.post("/v1/reports", content=junk, headers=CBOR).status_code == 200
    clock.set(clock.now() + 2)
    for seq in range(2, 10):  # accepted reports cost nothing
        wire = sign_report(device_key, HEARTBEAT, clock.now(), seq, {"lat": 52.5, "lon": 13.4}).to_wire()
        assert client.post("/v1/reports", content=cbor2.dumps([wire]), headers=CBOR).json()["accepted"] == 1
    assert client.post("/v1/reports", content=b"\xff", headers=CBOR).status_code == 400  # costs one
    assert client.post("/v1/reports", content=b"\xff", headers=CBOR).headers["retry-after"] == "1"
    sources = store.rejection_sources(0, 2**62)
    assert sources == {
        "http:203.0.113.5": {"report.malformed": 6},
        "http:198.51.100.1": {"report.malformed": 3},
    }
