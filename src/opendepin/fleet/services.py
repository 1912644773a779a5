"""The node as the fleet's devices reach it, handed to each sector's simulation (`SimServices`).

`NodeServices` reads the node's API over HTTP (any `httpx.Client`: the loopback server of `depin up`, or a
FastAPI `TestClient` in tests) and its challenges from the challenge service; `SectorView` narrows it to
one sector's routes (`/v1/sectors/NAME/...`) and to the keys that sector's simulation may sign with: the
fleet's users and the owners of its own devices. `Accounts` (fleet/market.py's `TreasuryAccounts` under
`depin up` with a chain) gives the users and buys credits for them and for owners. `OFFLINE` is for fleets
that run without a node: it refuses every question, naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import cbor2
import httpx

from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import SignedReceipt, countersign
from opendepin.sectors.base import Challenge

ChallengeSource = Callable[[str], Sequence[Challenge]]
"""Challenge kind → the challenges the node issues now (`Node.current_challenge`)."""


class Accounts(Protocol):
    """The fleet's users and their data credits (a chain)."""

    def users(self) -> Sequence[Wallet]: ...

    def buy_credits(self, wallet: Wallet, credits: int) -> int: ...


class FleetServices(Protocol):
    """What the fleet can ask the node: any API path, the current challenges of a kind, usage receipts; and
    its users' accounts."""

    def get(self, path: str) -> Any: ...

    def post(self, path: str, body: Mapping[str, Any]) -> Any: ...

    def challenges(self, kind: str) -> Sequence[Challenge]: ...

    def send_usage(self, receipts: Sequence[bytes]) -> Sequence[Mapping[str, Any]]: ...

    def users(self) -> Sequence[Wallet]: ...

    def buy_credits(self, wallet: Wallet, credits: int) -> int: ...


class NodeServices:
    """The node's HTTP API through `client`; its challenges through `challenges`; the users and their
    credits through `accounts` (None: no users, nothing bought)."""

    def __init__(
        self, client: httpx.Client, challenges: ChallengeSource, accounts: Accounts | None = None
    ) -> None:
        self.client = client
        self._challenges = challenges
        self.accounts = accounts

    def get(self, path: str) -> Any:
        """GET `path` (e.g. `/v1/sectors/wireless/entropy`) and decode its JSON; an error status raises."""
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST `body` as JSON to `path` and decode the answer; an error status raises."""
        response = self.client.post(path, json=dict(body))
        response.raise_for_status()
        return response.json()

    def challenges(self, kind: str) -> Sequence[Challenge]:
        return self._challenges(kind)

    def send_usage(self, receipts: Sequence[bytes]) -> Sequence[Mapping[str, Any]]:
        """POST /v1/usage (CBOR list of wire receipts): the node's result for each."""
        if not receipts:
            return []
        body = cbor2.dumps(list(receipts))
        response = self.client.post("/v1/usage", content=body, headers={"content-type": "application/cbor"})
        response.raise_for_status()
        return list(response.json()["results"])

    def users(self) -> Sequence[Wallet]:
        return self.accounts.users() if self.accounts is not None else []

    def buy_credits(self, wallet: Wallet, credits: int) -> int:
        return self.accounts.buy_credits(wallet, credits) if self.accounts is not None else 0


HINT = "pass the node's services to Fleet.reports_for_hour (fleet.services.NodeServices)"


class Offline:
    """No node: every question raises, saying what the simulation asked."""

    def get(self, path: str) -> Any:
        raise RuntimeError(f"the simulation asked the node for GET {path}; {HINT}")

    def challenges(self, kind: str) -> Sequence[Challenge]:
        raise RuntimeError(f"the simulation asked the node for {kind!r} challenges; {HINT}")

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        raise RuntimeError(f"the simulation asked the node for POST {path}; {HINT}")

    def send_usage(self, receipts: Sequence[bytes]) -> Sequence[Mapping[str, Any]]:
        raise RuntimeError(f"the simulation sent {len(receipts)} usage receipts; {HINT}")

    def users(self) -> Sequence[Wallet]:
        return []

    def buy_credits(self, wallet: Wallet, credits: int) -> int:
        return 0


OFFLINE = Offline()


class SectorView:
    """`SimServices` for sector `name`: its own routes (under /v1/sectors/NAME/), the challenges, usage
    receipts, signatures by the fleet's users and by `owners` (the owners of the sector's devices), and
    countersignatures by `devices` (the keys of the sector's devices)."""

    def __init__(
        self,
        name: str,
        services: FleetServices,
        owners: Sequence[Wallet] = (),
        devices: Sequence[DeviceKey] = (),
    ) -> None:
        self.name = name
        self.services = services
        self._owners = {w.address: w for w in owners}
        self._devices = {k.device_id: k for k in devices}
        self._users: dict[str, Wallet] | None = None

    def _route(self, route: str) -> str:
        return f"/v1/sectors/{self.name}/{route.lstrip('/')}"

    def get(self, route: str) -> Any:
        return self.services.get(self._route(route))

    def post(self, route: str, body: Mapping[str, Any]) -> Any:
        return self.services.post(self._route(route), body)

    def challenges(self, kind: str) -> Sequence[Challenge]:
        return self.services.challenges(kind)

    def _user_wallets(self) -> dict[str, Wallet]:
        if self._users is None:
            self._users = {w.address: w for w in self.services.users()}
        return self._users

    def users(self) -> Sequence[str]:
        return list(self._user_wallets())

    def _wallet(self, address: str) -> Wallet:
        wallet = self._user_wallets().get(address) or self._owners.get(address)
        if wallet is None:
            raise KeyError(f"{address} is neither a user of the fleet nor an owner of a {self.name} device")
        return wallet

    def sign_text(self, address: str, message: str) -> bytes:
        return self._wallet(address).sign_text(message)

    def buy_credits(self, address: str, credits: int) -> int:
        return self.services.buy_credits(self._wallet(address), credits)

    def send_usage(self, receipts: Sequence[bytes]) -> Sequence[Mapping[str, Any]]:
        return self.services.send_usage(receipts)

    def countersign(self, receipt: SignedReceipt) -> SignedReceipt:
        key = self._devices.get(receipt.receipt.device)
        if key is None:
            raise KeyError(f"{receipt.receipt.device[:40]} is not one of the {self.name} sector's devices")
        return countersign(receipt, key)
