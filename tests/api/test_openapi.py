"""The OpenAPI document and the API documents: every route described, request bodies documented, one error
shape, /docs and /redoc served from the node's own files (nothing from another host)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.node import Node

EXTERNAL = re.compile(r"https?://(?!127\.0\.0\.1|localhost)[^\s\"'<>)]+")


@pytest.fixture
def client(node: Node) -> TestClient:
    return TestClient(create_app(node), raise_server_exceptions=False)


def test_every_operation_is_described_and_errors_have_one_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "Exact integers" in schema["info"]["description"]
    operations = [(p, m, op) for p, ops in schema["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 19
    for path, method, op in operations:
        assert len(op.get("description", "")) > 30, (method, path)
        for code, response in op["responses"].items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, code)
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ValidationError" not in components
    assert components["Error"]["properties"]["detail"]["required"] == ["reason", "message"]
    assert "/v1/devices" in schema["paths"] and "get" in schema["paths"]["/v1/devices"]


def test_batch_bodies_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/reports", "/v1/usage"):
        body = paths[path]["post"]["requestBody"]
        assert set(body["content"]) == {"application/cbor", "application/json"}, path
    description = client.get("/openapi.json").json()["info"]["description"]
    assert "[envelope, signature]" in description and "base64" in description


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_documents_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and "html" in response.headers["content-type"]
    assert EXTERNAL.findall(response.text) == []
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", response.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "fonts.googleapis" not in response.text


def test_errors_have_one_shape(client: TestClient) -> None:
    answers = [
        client.get("/v1/nowhere"),  # 404 from the framework
        client.delete("/v1/epochs"),  # 405
        client.get("/v1/epochs/-1"),  # 422 validation
        client.get("/v1/map"),  # 404 from a view: no epoch closed
        client.get("/v1/devices?limit=0"),
        client.get("/v1/map/cells/zz"),
    ]
    for response in answers:
        assert response.status_code >= 400
        detail = response.json()["detail"]
        assert set(detail) == {"reason", "message"} and detail["reason"], response.text


def test_an_unexpected_failure_is_a_500_with_the_error_shape(node: Node) -> None:
    app = create_app(node)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    response = TestClient(app, raise_server_exceptions=False).get("/v1/boom")
    assert response.status_code == 500
    assert response.json() == {
        "detail": {"reason": "internal", "message": "the node failed to answer; the operator has been told"}
    }
