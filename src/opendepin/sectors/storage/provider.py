"""The storage provider agent (`depin provider storage`): a process that keeps real bytes in its own
directory, takes client-signed, paid piece uploads and serves paid downloads over HTTP, registers its pieces
with the node, answers the node's audits, and signs what it stored.

HTTP API of a provider (docs/storage.md, "The provider agent"):
- `GET /info`: device id, network prefix, capacity and use;
- `PUT /pieces/{segment}/{index}`: the piece's bytes; headers `x-client`, `x-client-sig` (hex, EIP-191 over
  `reports.put_message`), `x-k`, `x-n`, `x-receipt` (base64 of a signed usage receipt for the byte-hours
  prepaid). The agent recomputes the Merkle root, checks both signatures and the price, stores the bytes
  (fsync'd), then countersigns the receipt with its device key and has the node accept it (`POST
  /v1/usage`; refused → the bytes are dropped again and 402 with the node's reason), registers the piece
  (`storage.put`) and answers with its own signature over `reports.stored_message` and its countersignature;
- `GET /pieces/{segment}/{index}`: the bytes, for a signed egress receipt in `x-receipt`; once the bytes
  are sent the agent countersigns the receipt and sends it to the node;
- `POST /pieces/{segment}/{index}/renew`: a later expiry: headers `x-expires`, `x-expiry-sig` (the piece's
  client over `reports.expiry_message`), `x-receipt` (byte-hours paying from the current expiry to the new
  one); the agent records it, countersigns and sends the receipt (refused → the old expiry stands, 402) and
  registers it (`storage.renew`);
- `DELETE /pieces/{segment}/{index}`: with the piece's client's signature over `reports.delete_message`.

Every piece has the expiry its client paid for (`x-expires` and `x-expiry-sig` on the put: at most the
receipt's time plus the hours it pays for). The network drops it from the registry at that time; the agent
refuses to serve it from then on (410 `storage.expired`) and deletes its bytes once the audit answer
deadline (`timeout_s`) after the expiry has passed (`expire_once`).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import h3
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.background import BackgroundTask

from opendepin.identity.attestation import attestation_message, location_message
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet, normalize_address, recover_text_signer
from opendepin.market.receipts import ReceiptError, SignedReceipt, countersign, decode_receipt
from opendepin.reports.envelope import sign_report
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import Piece, due_for
from opendepin.sectors.storage.nodeclient import NodeClient, NodeError
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.pieces import PieceMeta, PieceStore, tree_of
from opendepin.sectors.storage.pricing import (
    EGRESS_UNIT,
    REPAIR_UNIT,
    STORED_UNIT,
    egress_credits,
    repair_credits,
    storage_credits,
)
from opendepin.sectors.storage.reports import (
    DELETE,
    PING,
    PROOF,
    PUT,
    RENEW,
    delete_message,
    expiry_message,
    put_message,
    stored_message,
)

log = logging.getLogger("opendepin.storage.provider")
KEY_FILE = "device.key"
MIN_PREPAID_HOURS = 1
AUDIT_SLACK = 1
"""Answers beyond the reservoir's slots: the node may hold fewer of our pieces than we do."""


@dataclass
class ProviderOptions:
    directory: Path
    node: str
    capacity: int
    prefix: str
    endpoint: str
    owner_key: bytes | None = None
    maker_key: bytes | None = None
    lat: float = 0.0
    lon: float = 0.0
    poll_s: float = 2.0
    min_prepaid_hours: int = MIN_PREPAID_HOURS


def load_or_create_key(directory: Path) -> DeviceKey:
    """The provider's ed25519 device key (created on first start, kept in DIR/device.key, mode 0600)."""
    path = directory / KEY_FILE
    if path.exists():
        return DeviceKey("ed25519", bytes.fromhex(path.read_text().strip()))
    key = DeviceKey.generate("ed25519")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(key.secret.hex())
    path.chmod(0o600)
    return key


def onboarding_body(
    network: str, key: DeviceKey, owner: Wallet, maker: Wallet, cell: str, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """POST /v1/devices: the maker's attestation and the owner's location with capacity and prefix."""
    stated = dict(attributes)
    return {
        "device_id": key.device_id,
        "owner": owner.address,
        "maker": maker.address,
        "maker_signature": maker.sign_text(attestation_message(network, key.device_id, owner.address)).hex(),
        "attributes": {},
        "location": {
            "cell": cell,
            "nonce": 1,
            "signature": owner.sign_text(location_message(network, key.device_id, cell, 1, stated)).hex(),
            "attributes": stated,
        },
    }


@dataclass
class ProviderAgent:
    """One provider: its key, its pieces on disk, the node it reports to."""

    options: ProviderOptions
    key: DeviceKey = field(init=False)
    store: PieceStore = field(init=False)
    node: NodeClient = field(init=False)
    params: StorageParams = field(init=False)
    _seq: int = 0
    _seq_lock: threading.Lock = field(default_factory=threading.Lock)
    last_audit: str | None = None
    answered: dict[str, dict[str, int]] = field(default_factory=dict)
    """audit id → how many reports the node answered with each status (the last few audits)"""
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.key = load_or_create_key(self.options.directory)
        self.store = PieceStore(self.options.directory, self.options.capacity)
        self.node = NodeClient(self.options.node)
        self.params = StorageParams()

    @property
    def device_id(self) -> str:
        return self.key.device_id

    def attributes(self) -> dict[str, Any]:
        return {
            "capacity_bytes": self.options.capacity,
            "network_prefix": self.options.prefix,
            "endpoint": self.options.endpoint,
        }

    def start(self) -> dict[str, Any]:
        """Read the network's storage rules and onboard (once) with the owner's and maker's keys."""
        self.params = StorageParams.model_validate(self.node.rules())
        device = self.node.device(self.device_id)
        if device is None:
            if self.options.owner_key is None or self.options.maker_key is None:
                raise NodeError(
                    "onboarding.needs_keys", "not onboarded yet: give --owner-key and --maker-key"
                )
            cell = h3.latlng_to_cell(self.options.lat, self.options.lon, 12)
            body = onboarding_body(
                self.node.network(),
                self.key,
                Wallet(self.options.owner_key),
                Wallet(self.options.maker_key),
                cell,
                self.attributes(),
            )
            device = self.node.onboard(body)
        return device

    def next_seq(self) -> int:
        """Unique sequence numbers (the sector's reports take `seq` unique, in any order): microseconds."""
        with self._seq_lock:
            self._seq = max(self._seq + 1, time.time_ns() // 1_000)
            return self._seq

    def send(self, kind: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = int(time.time())
        wires = [sign_report(self.key, kind, now, self.next_seq(), p).to_wire() for p in payloads]
        return self.node.post_reports(wires)

    # uploads, downloads, deletes
    def check_receipt(self, header: str | None, client: str | None, unit: str, needed: int) -> SignedReceipt:
        """A usage receipt for this device, in `unit`, covering `needed` of it at the network's price."""
        if not header:
            raise HTTPException(402, {"reason": "storage.payment_required", "message": "x-receipt missing"})
        try:
            signed = decode_receipt(base64.b64decode(header, validate=True))
        except (ReceiptError, ValueError) as error:
            raise HTTPException(
                402, {"reason": getattr(error, "reason", "receipt.malformed"), "message": str(error)}
            ) from None
        r = signed.receipt
        if unit == EGRESS_UNIT and r.unit == REPAIR_UNIT:
            unit = REPAIR_UNIT  # a download for a repair pays the repair rate
        p = self.params
        price = {
            STORED_UNIT: lambda q: storage_credits(q, p.credits_per_gb_hour),
            EGRESS_UNIT: lambda q: egress_credits(q, p.credits_per_gb_egress),
            REPAIR_UNIT: lambda q: repair_credits(q, p.credits_per_gb_repair),
        }[unit](r.quantity)
        problems = []
        if r.device != self.device_id or r.sector != "storage" or r.unit != unit:
            problems.append(f"receipt must be for device {self.device_id}, sector storage, unit {unit}")
        if client is not None and r.payer != client:
            problems.append(f"receipt payer {r.payer} is not the client {client}")
        if r.quantity < needed or r.credits < price:
            problems.append(
                f"receipt covers {r.quantity} {unit} for {r.credits} credits; needed {needed} for {price}"
            )
        if problems:
            raise HTTPException(402, {"reason": "storage.bad_receipt", "message": "; ".join(problems)})
        return signed

    def check_expiry(
        self, segment: str, index: int, client: str, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """The expiry in `x-expires` and the client's signature over it in `x-expiry-sig`."""
        try:
            expires = int(headers.get("x-expires", ""))
            signature = bytes.fromhex(headers.get("x-expiry-sig", ""))
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        if recover_text_signer(expiry_message(segment, index, self.device_id, expires), signature) != client:
            raise HTTPException(
                403,
                {"reason": "storage.bad_client_signature", "message": "the client did not sign this expiry"},
            )
        return expires, signature

    @staticmethod
    def check_paid_until(expires: int, after: int, paid_until: int) -> None:
        if not after < expires <= paid_until:
            raise HTTPException(
                400,
                {
                    "reason": "storage.bad_expiry",
                    "message": f"expires {expires} must be after {after} and at most {paid_until}, "
                    "the end of what the receipt pays for",
                },
            )

    def accept_put(self, segment: str, index: int, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        try:
            client = normalize_address(headers.get("x-client", ""))
            k, n = int(headers.get("x-k", "")), int(headers.get("x-n", ""))
            client_sig = bytes.fromhex(headers.get("x-client-sig", ""))
            self.store.path(segment, index)
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        if not (1 <= k < n <= 255 and index < n and body):
            raise HTTPException(
                400, {"reason": "storage.bad_piece", "message": "need 1 <= k < n, piece < n, bytes"}
            )
        root = merkle.compute_root(body, self.params.leaf_size).hex()
        text = put_message(segment, index, self.device_id, root, len(body), k, n)
        if recover_text_signer(text, client_sig) != client:
            raise HTTPException(
                403,
                {"reason": "storage.bad_client_signature", "message": "the client did not sign this piece"},
            )
        held = self.store.meta(segment, index)
        if held is not None and held.root != root:
            raise HTTPException(
                409, {"reason": "storage.piece_taken", "message": "another piece is stored here"}
            )
        expires, expiry_sig = self.check_expiry(segment, index, client, headers)
        needed = len(body) * self.options.min_prepaid_hours
        receipt = self.check_receipt(headers.get("x-receipt"), client, STORED_UNIT, needed)
        paid = receipt.receipt
        self.check_paid_until(expires, int(time.time()), paid.ts + paid.quantity // len(body) * 3_600)
        meta = PieceMeta(
            segment, index, len(body), root, k, n, client, client_sig.hex(), expires, expiry_sig.hex()
        )
        try:
            self.store.put(meta, body)
        except OSError as error:
            raise HTTPException(507, {"reason": "storage.full", "message": str(error)}) from None
        # stored: only now does the provider confirm the receipt with its own signature
        receipt = countersign(receipt, self.key)
        try:
            (status,) = self.node.post_usage([receipt.to_wire()])
        except (NodeError, OSError):
            if held is None:
                self.store.delete(segment, index)
            raise
        if status["status"] != "accepted":
            if held is None:
                self.store.delete(segment, index)
            raise HTTPException(402, {"reason": status["status"], "message": status["message"]})
        payload = {
            "segment": segment,
            "piece": index,
            "k": k,
            "n": n,
            "size": len(body),
            "root": root,
            "client": client,
            "client_sig": client_sig,
            "expires": expires,
            "expiry_sig": expiry_sig,
            "receipt": receipt.receipt_id,
        }
        (registered,) = self.send(PUT, [payload])
        signature = self.key.sign(stored_message(segment, index, root, len(body), client).encode())
        return {
            "device_id": self.device_id,
            "root": root,
            "size": len(body),
            "provider_sig": signature.hex(),
            "receipt": receipt.receipt_id,
            "receipt_countersig": receipt.device_signature.hex(),
            "registered": registered["status"],
        }

    def renew(self, segment: str, index: int, headers: Mapping[str, str]) -> dict[str, Any]:
        """Keep a piece until a later expiry its client signed and paid for (byte-hours from the current
        expiry on); the receipt is countersigned once the new expiry is recorded."""
        meta = self.store.meta(segment, index)
        if meta is None:
            raise HTTPException(404, {"reason": "storage.unknown_piece", "message": "no such piece here"})
        now = int(time.time())
        if not meta.expires or meta.expires <= now:
            reason = "storage.expired" if meta.expires else "storage.renew_not_later"
            message = f"expired at {meta.expires}" if meta.expires else "this piece never expires"
            raise HTTPException(410 if meta.expires else 409, {"reason": reason, "message": message})
        expires, expiry_sig = self.check_expiry(segment, index, meta.client, headers)
        receipt = self.check_receipt(headers.get("x-receipt"), meta.client, STORED_UNIT, meta.size)
        self.check_paid_until(
            expires, meta.expires, meta.expires + receipt.receipt.quantity // meta.size * 3_600
        )
        self.store.update_meta(replace(meta, expires=expires, expiry_sig=expiry_sig.hex()))
        receipt = countersign(receipt, self.key)
        try:
            (status,) = self.node.post_usage([receipt.to_wire()])
        except (NodeError, OSError):
            self.store.update_meta(meta)
            raise
        if status["status"] != "accepted":
            self.store.update_meta(meta)
            raise HTTPException(402, {"reason": status["status"], "message": status["message"]})
        payload = {
            "segment": segment,
            "piece": index,
            "expires": expires,
            "expiry_sig": expiry_sig,
            "receipt": receipt.receipt_id,
        }
        (registered,) = self.send(RENEW, [payload])
        return {
            "device_id": self.device_id,
            "expires": expires,
            "previous": meta.expires,
            "receipt": receipt.receipt_id,
            "receipt_countersig": receipt.device_signature.hex(),
            "registered": registered["status"],
        }

    def expire_once(self, now: int | None = None) -> int:
        """Delete the bytes of pieces whose expiry passed more than `timeout_s` ago (an audit issued just
        before the expiry may still ask for them until then); the network already dropped them."""
        now = int(time.time()) if now is None else now
        gone = 0
        for meta in self.store.all():
            if meta.expires and meta.expires + self.params.timeout_s <= now:
                gone += int(self.store.delete(meta.segment, meta.index))
        return gone

    def serve_get(self, segment: str, index: int, headers: Mapping[str, str]) -> tuple[bytes, SignedReceipt]:
        """The bytes and the egress receipt that pays for them (countersigned and sent once they are
        served: `post_served`); nothing once the piece's paid storage has expired."""
        meta = self.store.meta(segment, index)
        data = self.store.read(segment, index) if meta else None
        if meta is None or data is None:
            raise HTTPException(404, {"reason": "storage.unknown_piece", "message": "no such piece here"})
        if meta.expires and meta.expires <= int(time.time()):
            raise HTTPException(410, {"reason": "storage.expired", "message": f"expired at {meta.expires}"})
        receipt = self.check_receipt(headers.get("x-receipt"), None, EGRESS_UNIT, len(data))
        return data, receipt

    def post_served(self, receipt: SignedReceipt) -> None:
        """After the bytes went out: countersign the receipt and send it to the node."""
        receipt = countersign(receipt, self.key)
        try:
            (status,) = self.node.post_usage([receipt.to_wire()])
            if status["status"] != "accepted":
                log.warning("egress receipt %s refused: %s", receipt.receipt_id, status["status"])
        except (NodeError, OSError) as error:
            log.warning("egress receipt %s not sent: %s", receipt.receipt_id, error)

    def accept_delete(self, segment: str, index: int, headers: Mapping[str, str]) -> dict[str, Any]:
        meta = self.store.meta(segment, index)
        if meta is None:
            raise HTTPException(404, {"reason": "storage.unknown_piece", "message": "no such piece here"})
        try:
            sig = bytes.fromhex(headers.get("x-client-sig", ""))
        except ValueError:
            sig = b""
        if recover_text_signer(delete_message(segment, index, self.device_id), sig) != meta.client:
            raise HTTPException(
                403,
                {
                    "reason": "storage.bad_client_signature",
                    "message": "only the piece's client may delete it",
                },
            )
        self.store.delete(segment, index)
        (status,) = self.send(DELETE, [{"segment": segment, "piece": index, "client_sig": sig}])
        return {"deleted": True, "registered": status["status"]}

    # audits
    def answer_audit(self, challenge: str, issued_at: int | None = None) -> list[dict[str, Any]]:
        """Send the answers to the audit `challenge` (`audit_answers`); the node's status of each."""
        return self.send(*self.audit_answers(challenge, issued_at))

    def audit_answers(self, challenge: str, issued_at: int | None = None) -> tuple[str, list[dict[str, Any]]]:
        """(kind, payloads): proofs for what this provider owes in the audit `challenge`, or a ping when
        nothing; pieces that expired at or before the audit was issued are no longer the network's."""
        metas = {
            m.key: m for m in self.store.all() if issued_at is None or not m.expires or m.expires > issued_at
        }
        pieces = [
            Piece(m.key, m.segment, m.index, self.device_id, m.size, m.root, m.k, m.n, 0)
            for m in metas.values()
        ]
        p = self.params
        dues = due_for(
            challenge,
            self.device_id,
            pieces,
            p.audit_slots + AUDIT_SLACK,
            Fraction(str(p.stripe_audit_rate)),
            p.leaf_size,
            p.stripe_size,
        )
        if not dues:
            return PING, [{"challenge": challenge}]
        payloads = []
        for key, due in dues.items():
            meta = metas[key]
            data = self.store.read(meta.segment, meta.index)
            payload: dict[str, Any] = {"challenge": challenge, "segment": meta.segment, "piece": meta.index}
            if data is None:
                payload["missing"] = True
            else:
                leaf_size = p.leaf_size
                payload["leaf"] = due.leaf
                payload["data"] = data[due.leaf * leaf_size : (due.leaf + 1) * leaf_size]
                payload["path"] = merkle.prove(tree_of(data, leaf_size), due.leaf)
                if due.stripe is not None:
                    payload["stripe"] = data[due.stripe[0] : due.stripe[0] + due.stripe[1]]
            payloads.append(payload)
        return PROOF, payloads

    def audit_once(self) -> list[dict[str, Any]] | None:
        """Answer the node's current audit if it is new; None when there was nothing new."""
        audit = self.node.audit()
        current = audit["challenge"]
        if current == self.last_audit:
            return None
        results = self.answer_audit(current, audit.get("issued_at"))
        self.last_audit = current
        counts: dict[str, int] = {}
        for result in results:
            counts[result["status"]] = counts.get(result["status"], 0) + 1
        self.answered[current] = counts
        for old in list(self.answered)[:-8]:
            del self.answered[old]
        return results

    def audit_loop(self) -> None:
        while not self.stop.is_set():
            try:
                if expired := self.expire_once():
                    log.info("deleted %d expired pieces", expired)
                results = self.audit_once()
                if results is not None:
                    refused = [r["status"] for r in results if r["status"] != "accepted"]
                    log.info(
                        "audit %s answered: %d reports, refused %s", self.last_audit, len(results), refused
                    )
            except (NodeError, OSError) as error:
                log.warning("audit poll failed: %s", error)
            self.stop.wait(self.options.poll_s)


def build_app(agent: ProviderAgent) -> FastAPI:
    app = FastAPI(title="opendepin storage provider")

    @app.get("/info")
    def info() -> dict[str, Any]:
        return {
            "device_id": agent.device_id,
            **agent.attributes(),
            "used_bytes": agent.store.used(),
            "pieces": len(agent.store.all()),
            "audits": agent.answered,
        }

    @app.put("/pieces/{segment}/{index}")
    async def put_piece(segment: str, index: int, request: Request) -> dict[str, Any]:
        body = await request.body()
        return await run_in_threadpool(agent.accept_put, segment, index, body, dict(request.headers))

    @app.get("/pieces/{segment}/{index}")
    def get_piece(segment: str, index: int, request: Request) -> Response:
        try:
            agent.store.path(segment, index)
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        data, receipt = agent.serve_get(segment, index, dict(request.headers))
        # the receipt is countersigned and sent after the response's bytes have gone out
        return Response(
            data, media_type="application/octet-stream", background=BackgroundTask(agent.post_served, receipt)
        )

    @app.get("/pieces/{segment}/{index}/stat")
    def stat_piece(segment: str, index: int) -> dict[str, Any]:
        """Whether the piece is here: its Merkle root recomputed from the bytes on disk (free)."""
        try:
            agent.store.path(segment, index)
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        data = agent.store.read(segment, index) if agent.store.meta(segment, index) else None
        if data is None:
            raise HTTPException(404, {"reason": "storage.unknown_piece", "message": "no such piece here"})
        return {"root": merkle.compute_root(data, agent.params.leaf_size).hex(), "size": len(data)}

    @app.post("/pieces/{segment}/{index}/renew")
    def renew_piece(segment: str, index: int, request: Request) -> dict[str, Any]:
        try:
            agent.store.path(segment, index)
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        return agent.renew(segment, index, dict(request.headers))

    @app.delete("/pieces/{segment}/{index}")
    def delete_piece(segment: str, index: int, request: Request) -> dict[str, Any]:
        try:
            agent.store.path(segment, index)
        except ValueError as error:
            raise HTTPException(400, {"reason": "storage.bad_request", "message": str(error)}) from None
        return agent.accept_delete(segment, index, dict(request.headers))

    return app


def run_provider(options: ProviderOptions, host: str, port: int) -> None:
    """Onboard, then serve HTTP and answer audits until stopped."""
    import uvicorn

    agent = ProviderAgent(options)
    agent.start()
    thread = threading.Thread(target=agent.audit_loop, daemon=True, name="storage-audits")
    thread.start()
    try:
        uvicorn.run(build_app(agent), host=host, port=port, log_level="warning")
    finally:
        agent.stop.set()
