"""What storage providers and clients ask a node over HTTP (the node's public API, nothing else)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cbor2
import httpx

CBOR = "application/cbor"


class NodeError(RuntimeError):
    """The node refused or could not be reached; `reason` is its reason code when it gave one."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NodeClient:
    """A thin client of one node's API (`/v1/...`)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", {})
            except ValueError:
                detail = {}
            reason = detail.get("reason", f"http.{response.status_code}") if isinstance(detail, dict) else ""
            raise NodeError(reason or f"http.{response.status_code}", f"{response.request.url}: {detail}")
        return response.json()

    def device(self, device_id: str) -> dict[str, Any] | None:
        response = self.http.get(f"/v1/devices/{device_id}")
        if response.status_code == 404:
            return None
        return dict(self._json(response))

    def onboard(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._json(self.http.post("/v1/devices", json=body)))

    def network(self) -> str:
        """The network's name (signed into onboarding messages)."""
        return str(self._json(self.http.get("/v1/health")).get("network", ""))

    def rules(self) -> dict[str, Any]:
        return dict(self._json(self.http.get("/v1/sectors/storage/rules")))

    def health(self) -> dict[str, Any]:
        """`GET /v1/health`: the node's clock and `next_epoch` (the epochs closed so far)."""
        return dict(self._json(self.http.get("/v1/health")))

    def epoch(self, number: int) -> dict[str, Any]:
        """A closed epoch's manifest (its window: `start`, `end`)."""
        return dict(self._json(self.http.get(f"/v1/epochs/{number}")))

    def repair_list(self, client: str | None = None) -> dict[str, Any]:
        """`GET /v1/sectors/storage/repair`: the segments at or below the repair threshold in the latest
        closed epoch (only `client`'s when given), each with the pieces the registry still holds."""
        params = {"client": client} if client else {}
        return dict(self._json(self.http.get("/v1/sectors/storage/repair", params=params)))

    def audit(self) -> dict[str, Any]:
        return dict(self._json(self.http.get("/v1/sectors/storage/audit")))

    def _batch(self, path: str, wires: Sequence[bytes]) -> list[dict[str, Any]]:
        response = self.http.post(path, content=cbor2.dumps(list(wires)), headers={"content-type": CBOR})
        return list(self._json(response)["results"])

    def post_reports(self, wires: Sequence[bytes]) -> list[dict[str, Any]]:
        """Each signed report's status (`accepted` or a reason code)."""
        return self._batch("/v1/reports", wires) if wires else []

    def post_usage(self, wires: Sequence[bytes]) -> list[dict[str, Any]]:
        """Each signed usage receipt's status (`accepted` or a reason code)."""
        return self._batch("/v1/usage", wires) if wires else []
