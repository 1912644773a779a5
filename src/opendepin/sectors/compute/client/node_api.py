"""The node's HTTP API as the agent and the tenant use it (httpx), with reason codes in errors."""

from __future__ import annotations

from typing import Any

import cbor2
import httpx

SECTOR = "/v1/sectors/compute"


class NodeError(RuntimeError):
    """The node refused a request; `reason` is its reason code."""

    def __init__(self, status: int, reason: str, detail: Any) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status, self.reason = status, reason


class NodeApi:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            reason = detail.get("reason", "http") if isinstance(detail, dict) else "http"
            raise NodeError(response.status_code, reason, detail)
        return response.json()

    def get(self, path: str) -> Any:
        return self._check(self.http.get(path))

    def post_json(self, path: str, body: Any) -> Any:
        return self._check(self.http.post(path, json=body))

    def post_cbor(self, path: str, items: list[bytes]) -> Any:
        body = cbor2.dumps(items)
        return self._check(self.http.post(path, content=body, headers={"content-type": "application/cbor"}))

    # conveniences
    def network(self) -> str:
        return str(self.get("/v1/health")["network"])

    def now(self) -> int:
        return int(self.get(f"{SECTOR}/audit")["now"])

    def send_reports(self, wires: list[bytes]) -> list[dict[str, Any]]:
        return list(self.post_cbor("/v1/reports", wires)["results"])

    def send_receipts(self, wires: list[bytes]) -> dict[str, Any]:
        return dict(self.post_cbor("/v1/usage", wires))
