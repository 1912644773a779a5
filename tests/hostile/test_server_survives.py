"""The real server (`depin serve`, uvicorn, in its own process) survives hostile bodies and answers each
with a 4xx and a reason code (issue 11, "one small request kills the server").

Before the fix, `POST /v1/reports` with a 200 KB JSON body of 100,000 nested arrays made the process exit
with code 139 (SIGSEGV): `py_ecc` raises the recursion limit to 100,000 and the JSON decoder overflowed the
C stack.
"""

from __future__ import annotations

import httpx
import pytest

from tests.hostile.conftest import ServedNode

DEPTH = 100_000
NESTED_ARRAYS = b'{"reports":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
NESTED_OBJECTS = b'{"reports":' + b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"}"
UNCLOSED = b"[" * DEPTH


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/devices"])
@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (NESTED_ARRAYS, {"content-type": "application/json"}),
        (NESTED_OBJECTS, {"content-type": "application/json"}),
        (UNCLOSED, {"content-type": "application/json; charset=utf-8"}),
        (NESTED_ARRAYS, {"content-type": "application/problem+json"}),
        (NESTED_ARRAYS, {}),
    ],
    ids=["arrays", "objects", "unclosed", "plus-json", "no-content-type"],
)
def test_deeply_nested_json_is_refused_and_the_server_lives(
    served_node: ServedNode, path: str, body: bytes, headers: dict[str, str]
) -> None:
    response = httpx.post(served_node.url + path, content=body, headers=headers, timeout=30)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.json()["detail"]["reason"] in {"request.too_deep", "request.unsupported_media_type"}
    assert served_node.alive(), served_node.log.read_text()[-2000:]
    assert httpx.get(served_node.url + "/v1/health", timeout=10).json()["status"] == "ok"


def test_duplicate_content_type_headers_cannot_smuggle_json(served_node: ServedNode) -> None:
    headers = [("content-type", "application/json"), ("content-type", "application/cbor")]
    response = httpx.post(served_node.url + "/v1/devices", content=NESTED_ARRAYS, headers=headers, timeout=30)
    assert response.status_code == 400 and response.json()["detail"]["reason"] == "request.too_deep"
    assert served_node.alive()


def test_deep_cbor_is_refused(served_node: ServedNode) -> None:
    body = b"\x81" * DEPTH + b"\x40"
    response = httpx.post(
        served_node.url + "/v1/reports",
        content=body,
        headers={"content-type": "application/cbor"},
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["detail"]["reason"] == "batch.malformed"
    assert served_node.alive()


def test_huge_numbers_in_paths_are_4xx(served_node: ServedNode) -> None:
    for path in (
        "/v1/epochs/9223372036854775808",
        "/v1/epochs/9223372036854775808/proof/0x" + "11" * 20,
        "/v1/devices/x/explain?epoch=9223372036854775808",
    ):
        response = httpx.get(served_node.url + path, timeout=10)
        assert response.status_code == 422 and response.json()["detail"]["reason"] == "request.invalid"
    assert served_node.alive()
