"""The node as the fleet's devices reach it, handed to each sector's simulation (`SimServices`).

`NodeServices` reads the node's API over HTTP (any `httpx.Client`: the loopback server of `depin up`, or a
FastAPI `TestClient` in tests) and its challenges from the challenge service; `SectorView` narrows it to
one sector's routes (`/v1/sectors/NAME/...`). `OFFLINE` is for fleets that run without a node: it refuses
every question, naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx

from opendepin.sectors.base import Challenge

ChallengeSource = Callable[[str], Sequence[Challenge]]
"""Challenge kind → the challenges the node issues now (`Node.current_challenge`)."""


class FleetServices(Protocol):
    """What the fleet can ask the node: any API path, and the current challenges of a kind."""

    def get(self, path: str) -> Any: ...

    def challenges(self, kind: str) -> Sequence[Challenge]: ...


class NodeServices:
    """The node's HTTP API through `client`; its challenges through `challenges`."""

    def __init__(self, client: httpx.Client, challenges: ChallengeSource) -> None:
        self.client = client
        self._challenges = challenges

    def get(self, path: str) -> Any:
        """GET `path` (e.g. `/v1/sectors/wireless/entropy`) and decode its JSON; an error status raises."""
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def challenges(self, kind: str) -> Sequence[Challenge]:
        return self._challenges(kind)


HINT = "pass the node's services to Fleet.reports_for_hour (fleet.services.NodeServices)"


class Offline:
    """No node: every question raises, saying what the simulation asked."""

    def get(self, path: str) -> Any:
        raise RuntimeError(f"the simulation asked the node for GET {path}; {HINT}")

    def challenges(self, kind: str) -> Sequence[Challenge]:
        raise RuntimeError(f"the simulation asked the node for {kind!r} challenges; {HINT}")


OFFLINE = Offline()


class SectorView:
    """`SimServices` for sector `name`: its own routes (under /v1/sectors/NAME/) and the challenges."""

    def __init__(self, name: str, services: FleetServices) -> None:
        self.name = name
        self.services = services

    def get(self, route: str) -> Any:
        return self.services.get(f"/v1/sectors/{self.name}/{route.lstrip('/')}")

    def challenges(self, kind: str) -> Sequence[Challenge]:
        return self.services.challenges(kind)
