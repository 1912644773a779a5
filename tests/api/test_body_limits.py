"""Findings of the hostile-client probe of `depin serve` (bodies, budget, onboarding rate limit, media types,
error messages, map cells): every request body is bounded whatever its content type, all bodies together
by a byte budget, a failed onboarding costs its source tokens, media types are parsed, no error answers an
empty message, and a map cell that is not canonical is a 422."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import cbor2
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from opendepin.api.app import BODY_BUDGET_BODIES, body_policy, create_app, detail_message
from opendepin.api.bounded import (
    BatchLimits,
    BodyPolicy,
    BoundedBodyMiddleware,
    ByteBudget,
    is_cbor_media_type,
    media_type,
)
from opendepin.api.deps import SMALL_BODY_LIMIT, USAGE_JSON_LIMIT, cbor_batch_limit, json_body_limit
from opendepin.api.ratelimit import REFUSED_WRITE_COST
from opendepin.clock import SimulatedClock
from opendepin.config import NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, OWNER, onboard_request

CBOR = {"content-type": "application/cbor"}
HUGE = 300_000_000


@pytest.fixture
def client(node: Node) -> TestClient:
    return TestClient(create_app(node), raise_server_exceptions=False, client=("203.0.113.7", 4000))


def _reason(response: Any) -> str:
    return str(response.json()["detail"]["reason"])


async def _call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], dict[bytes, bytes], int]:
    """One request straight through the ASGI app: (status, JSON body, headers, body bytes the app read)."""
    read = 0
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> Message:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], dict(message["headers"])
        else:
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("198.51.100.9", 1234),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    await app(scope, receive, send)
    return answer["status"], json.loads(answer["body"] or b"null"), answer["headers"], read


def _forever(size: int = 65_536) -> Iterator[bytes]:
    while True:
        yield b"x" * size


# 1. every body is bounded, whatever its content type


def test_limits_follow_the_network_config(node: Node) -> None:
    params = node.config.ingest
    policy = body_policy(params)
    assert cbor_batch_limit(params) == 16_393_024 and json_body_limit(params) == 21_865_024
    assert SMALL_BODY_LIMIT == 262_144 and USAGE_JSON_LIMIT == 1_385_024
    assert policy.limit("/v1/reports", ["application/cbor"]) == 16_393_024
    assert policy.limit("/v1/reports", ["application/json"]) == policy.limit("/v1/reports", []) == 21_865_024
    assert policy.limit("/v1/reports", ["text/plain"]) == SMALL_BODY_LIMIT  # refused 415 anyway
    assert policy.limit("/v1/devices", ["application/json"]) == SMALL_BODY_LIMIT
    assert policy.limit("/v1/sectors/compute/orders", ["text/plain"]) == SMALL_BODY_LIMIT
    assert policy.budget.capacity == BODY_BUDGET_BODIES * 21_865_024


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "application/cbor", None])
@pytest.mark.parametrize("path", ["/v1/devices", "/v1/sectors/compute/orders", "/v1/reports", "/v1/usage"])
def test_a_declared_length_above_the_limit_is_413_before_a_byte_is_read(
    node: Node, path: str, content_type: str | None
) -> None:
    """The finding: a 300 MB text/plain POST to /v1/devices was read whole (peak ~1 GB) before a 422."""
    app = create_app(node)
    headers = [(b"content-length", str(HUGE).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    status, body, _, read = anyio.run(_call, app, "POST", path, headers, _forever())
    assert (status, body["detail"]["reason"], read) == (413, "request.too_large", 0)
    assert "limit" in body["detail"]["message"]


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/v1/devices", b"text/plain", SMALL_BODY_LIMIT),
        ("/v1/devices", b"application/json", SMALL_BODY_LIMIT),
        ("/v1/sectors/compute/orders", b"application/json", SMALL_BODY_LIMIT),
        ("/v1/reports", b"application/cbor", 16_393_024),
    ],
)
def test_a_chunked_body_is_counted_and_cut_off_at_the_limit(
    node: Node, path: str, content_type: bytes, limit: int
) -> None:
    app = create_app(node)
    headers = [(b"transfer-encoding", b"chunked"), (b"content-type", content_type)]
    status, body, _, read = anyio.run(_call, app, "POST", path, headers, _forever())
    assert (status, body["detail"]["reason"]) == (413, "request.too_large")
    assert limit < read <= limit + 65_536


def test_small_routes_take_no_batch_sized_body(client: TestClient) -> None:
    big = b" " * (SMALL_BODY_LIMIT + 1)
    for headers in ({"content-type": "application/json"}, {"content-type": "text/plain"}):
        response = client.post("/v1/devices", content=big, headers=headers)
        assert response.status_code == 413 and _reason(response) == "request.too_large"
    fits = client.post(
        "/v1/devices", content=b" " * 1_000 + b"{}", headers={"content-type": "application/json"}
    )
    assert fits.status_code == 422 and _reason(fits) == "request.invalid"


# 2. a byte budget bounds the bodies held at once


def test_byte_budget_is_first_come_first_served_and_never_exceeded() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(100)
        order: list[str] = []

        async def hold(name: str, size: int, seconds: float, timeout: float = 5.0) -> None:
            if await budget.acquire(size, timeout):
                order.append(name)
                assert budget.held <= budget.capacity
                await anyio.sleep(seconds)
                budget.release(size)
            else:
                order.append(f"{name}:refused")

        async with anyio.create_task_group() as group:
            group.start_soon(hold, "a", 60, 0.2)
            await anyio.sleep(0.01)
            group.start_soon(hold, "b", 60, 0.0)  # must wait for a
            await anyio.sleep(0.01)
            group.start_soon(hold, "c", 10, 0.0)  # fits now, but b came first
            await anyio.sleep(0.01)
            group.start_soon(hold, "d", 100, 0.0, 0.05)  # gives up; nothing stays reserved
        assert budget.held == 0 and budget.peak <= 100
        return order

    assert anyio.run(scenario) == ["a", "d:refused", "b", "c"]


async def _slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Holds its body for a while, like a route ingesting a batch."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await anyio.sleep(0.05)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps({"size": len(body)}).encode()})


@pytest.mark.parametrize("wait", [0.02, 30.0])
def test_concurrent_big_bodies_never_hold_more_than_the_budget(wait: float) -> None:
    """The finding: 40 concurrent maximal batches reached 2.4 GB RSS. Now at most the budget of body bytes
    is held at once; the others wait for room, then are answered 503 `node.busy` with Retry-After."""
    size = 1_000_000
    budget = ByteBudget(3 * size)
    policy = BodyPolicy({"/v1/reports": BatchLimits(size, size)}, 1_000, budget, wait_seconds=wait)
    app = BoundedBodyMiddleware(_slow_app, policy)
    results: list[tuple[int, dict[str, Any], dict[bytes, bytes], int]] = []

    async def one() -> None:
        headers = [(b"content-type", b"application/cbor"), (b"content-length", str(size).encode())]
        results.append(await _call(app, "POST", "/v1/reports", headers, iter([b"x" * size])))

    async def burst() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)

    anyio.run(burst)
    assert budget.peak <= budget.capacity and budget.held == 0
    served = [r for r in results if r[0] == 200]
    busy = [r for r in results if r[0] == 503]
    assert len(served) + len(busy) == 20 and all(r[1]["size"] == size for r in served)
    if wait > 1:
        assert not busy  # everyone got its turn
    else:
        assert 3 <= len(served) < 20
        assert all(r[1]["detail"]["reason"] == "node.busy" and r[2][b"retry-after"] == b"1" for r in busy)
        assert all(r[3] == 0 for r in busy)  # refused before its body was read


def test_a_chunked_body_reserves_its_limit_then_only_its_size() -> None:
    budget = ByteBudget(10_000)
    policy = BodyPolicy({}, 5_000, budget)
    held: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        held.append(budget.held)
        await _slow_app(scope, receive, send)

    headers = [(b"transfer-encoding", b"chunked")]
    status, _, _, _ = anyio.run(
        _call, BoundedBodyMiddleware(app, policy), "POST", "/x", headers, iter([b"y" * 10])
    )
    assert status == 200 and held == [10] and budget.peak == 5_000 and budget.held == 0


def test_a_body_that_never_finishes_is_408() -> None:
    policy = BodyPolicy({}, 5_000, ByteBudget(10_000), read_seconds=0.05)

    async def stalled() -> tuple[int, dict[str, Any]]:
        async def receive() -> Message:
            await anyio.sleep(10)
            return {"type": "http.request", "body": b"", "more_body": False}

        answer: dict[str, Any] = {}

        async def send(message: Message) -> None:
            answer.setdefault("status", message.get("status"))
            answer["body"] = message.get("body", b"")

        scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", b"100")]}
        await BoundedBodyMiddleware(_slow_app, policy)(scope, receive, send)
        return answer["status"], json.loads(answer["body"])

    status, body = anyio.run(stalled)
    assert status == 408 and body["detail"]["reason"] == "request.timeout"
    assert policy.budget.held == 0


# 3. failed onboardings share the per-client bucket


def _forged_onboarding(config: NetworkConfig, seed: int) -> dict[str, Any]:
    """A well-formed onboarding whose attestation the owner, not the maker, signed (403)."""
    request = onboard_request(config.name, DeviceKey("ed25519", bytes([seed]) * 32), maker=OWNER, cell=None)
    a = request.attestation
    return {
        "device_id": a.device_id,
        "owner": a.owner,
        "maker": MAKER.address,
        "maker_signature": a.signature.hex(),
    }


def _tuned(config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock, burst: int) -> TestClient:
    tuned = config.model_copy(
        update={
            "ingest": config.ingest.model_copy(update={"rejection_burst": burst, "rejections_per_second": 10})
        }
    )
    return TestClient(create_app(Node(tuned, store, clock)), client=("203.0.113.5", 4000))


def test_forged_onboardings_are_charged_and_throttled(
    config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock
) -> None:
    """The finding: 400 forged onboardings at 126/s, each a signature recovery, were never rate limited."""
    client = _tuned(config, store, clock, burst=3 * REFUSED_WRITE_COST)
    for seed in range(1, 4):
        refused = client.post("/v1/devices", json=_forged_onboarding(config, seed))
        assert refused.status_code == 403 and _reason(refused) == "onboarding.bad_attestation"
    limited = client.post("/v1/devices", json=_forged_onboarding(config, 4))
    assert limited.status_code == 429 and _reason(limited) == "ingest.rate_limited"
    assert limited.headers["retry-after"] == "1"
    valid = onboard_request(config.name, DeviceKey("ed25519", bytes([9]) * 32))
    assert (
        client.post("/v1/devices", content=b"{}", headers={"content-type": "application/json"}).status_code
        == 429
    )
    assert client.post("/v1/reports", content=cbor2.dumps([]), headers=CBOR).status_code == 429  # same bucket
    assert client.get("/v1/health").status_code == 200  # reads are not limited
    other = TestClient(client.app, client=("198.51.100.1", 4000))
    assert other.post("/v1/devices", json=_forged_onboarding(config, 5)).status_code == 403
    clock.set(clock.now() + REFUSED_WRITE_COST // 10)  # the debt of 50 repaid at 10 a second
    a = valid.attestation
    body = {
        "device_id": a.device_id,
        "owner": a.owner,
        "maker": a.maker,
        "maker_signature": a.signature.hex(),
    }
    assert client.post("/v1/devices", json=body).status_code == 201  # accepted onboardings cost nothing
    assert client.post("/v1/devices", json=body).status_code == 201


def test_a_source_limited_on_reports_is_limited_on_onboarding(
    config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock
) -> None:
    client = _tuned(config, store, clock, burst=5)
    assert (
        client.post("/v1/reports", content=cbor2.dumps([b"junk"] * 6), headers=CBOR).json()["rejected"] == 6
    )
    key = DeviceKey("ed25519", bytes([8]) * 32)
    a = onboard_request(config.name, key).attestation
    body = {
        "device_id": a.device_id,
        "owner": a.owner,
        "maker": a.maker,
        "maker_signature": a.signature.hex(),
    }
    limited = client.post("/v1/devices", json=body)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert store.get_device(key.device_id) is None


def test_a_batch_refused_at_the_edge_still_costs_one_token(
    config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock
) -> None:
    client = _tuned(config, store, clock, burst=2)
    deep = b'{"reports":' + b"[" * 40 + b"]" * 40 + b"}"
    for _ in range(2):
        refused = client.post("/v1/reports", content=deep, headers={"content-type": "application/json"})
        assert refused.status_code == 400 and _reason(refused) == "request.too_deep"
    assert client.post("/v1/reports", content=cbor2.dumps([]), headers=CBOR).status_code == 429


# 4. media types are parsed, not prefix-matched


def test_media_type_rules() -> None:
    assert media_type("Application/CBOR ; charset=binary") == "application/cbor"
    assert media_type(None) == media_type("") == ""
    assert is_cbor_media_type("APPLICATION/CBOR") and is_cbor_media_type("application/cbor;x=1")
    assert not is_cbor_media_type("application/cborXYZ") and not is_cbor_media_type("application/cbor-seq")


@pytest.mark.parametrize(
    "content_type", ["APPLICATION/CBOR", "application/cbor; charset=binary", "Application/Cbor"]
)
def test_cbor_in_any_case_is_cbor(
    client: TestClient, node: Node, device_key: DeviceKey, clock: SimulatedClock, content_type: str
) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    wire = sign_report(device_key, HEARTBEAT, clock.now(), 1, {"lat": 52.5, "lon": 13.4}).to_wire()
    response = client.post("/v1/reports", content=cbor2.dumps([wire]), headers={"content-type": content_type})
    assert response.status_code == 200 and response.json()["accepted"] == 1


@pytest.mark.parametrize("content_type", ["application/cborXYZ", "application/cbor-seq", "text/cbor"])
def test_other_media_types_are_415(client: TestClient, content_type: str) -> None:
    response = client.post("/v1/reports", content=cbor2.dumps([]), headers={"content-type": content_type})
    assert response.status_code == 415 and _reason(response) == "request.unsupported_media_type"


# 5. no error answers an empty message


def test_detail_message_rules() -> None:
    assert detail_message({"reason": "x", "message": "m"}) == "m"
    assert detail_message({"reason": "compute.bad_order", "detail": "not hex"}) == "not hex"
    assert detail_message({"reason": "compute.order_stale", "ts": 1, "now": 99}) == "ts=1, now=99"
    assert detail_message({"reason": "compute.capacity_disabled"}) == "compute.capacity_disabled"


def test_routes_raising_without_a_message_still_carry_one(node: Node) -> None:
    app = create_app(node)
    extra = FastAPI()

    @extra.get("/v1/test/stale")
    async def stale() -> None:
        raise HTTPException(400, {"reason": "compute.order_stale", "ts": 5, "now": 900})

    app.include_router(extra.router)
    response = TestClient(app).get("/v1/test/stale")
    assert response.json() == {"detail": {"reason": "compute.order_stale", "message": "ts=5, now=900"}}


# 6. map cells


@pytest.mark.parametrize(
    "cell",
    [
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "ffffffffffffffffffff",
        "-0x8c1f1d48945d9ff",
        "0x8c1f1d48945d9ff",
        "8C1F1D48945D9FF",
        "08c1f1d48945d9ff",
        "8c1f1d48945d9f",
        "fffffffffffffff",
        " 8c1f1d48945d9ff",
    ],
)
def test_a_map_cell_that_is_not_canonical_is_422(client: TestClient, cell: str) -> None:
    response = client.get(f"/v1/map/cells/{cell}")
    assert response.status_code == 422 and _reason(response) == "cell.invalid", response.text
    assert "15 lower-case hex digits" in response.json()["detail"]["message"]


def test_a_canonical_cell_reaches_the_view(client: TestClient) -> None:
    response = client.get("/v1/map/cells/8c1f1d48945d9ff")
    assert response.status_code != 422 and response.status_code < 500, response.text
