"""The storage client (`depin storage put|get|ls|rm`): erasure-codes objects k of n across distinct
providers and network prefixes, pays each provider in data credits with signed usage receipts, keeps each
object's metadata (piece Merkle roots signed by the providers, SHA-256 of the whole and of each segment),
and reads objects back byte-identical while up to n − k providers are gone or lying.

Rules (docs/storage.md, "Objects, segments and pieces"):
- an object is cut into segments of at most `segment_size` bytes; segment id = SHA-256 of the client
  address, the object id and the segment number; each segment is coded k of n (`codec.py`);
- placement: the n pieces of a segment go to n different providers on n different network prefixes (the
  prefix the node holds for the device, not what the provider says); a provider that refuses or fails is
  replaced by another provider on an unused prefix;
- a provider's answer is kept only if its signature over `stored_message` verifies with its device key and
  names the root the client computed;
- every piece is paid until an expiry the client signs (`reports.expiry_message`): the receipt's time plus
  the hours prepaid; `renew` pays every piece of an object for more hours from its current expiry and
  signs the later expiry; a repair pays a new piece until the latest expiry of the segment's pieces;
- reading: k pieces are fetched in parallel; a piece whose Merkle root is not the recorded one (a lying or
  rotten provider) or whose provider fails is replaced by the next holder's; the decoded segment must have
  its recorded SHA-256, and the object its recorded SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from opendepin.identity.keys import parse_device_id
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.codec import decode_segment, encode_segment
from opendepin.sectors.storage.nodeclient import NodeClient
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.pricing import (
    EGRESS_UNIT,
    REPAIR_UNIT,
    STORED_UNIT,
    egress_credits,
    repair_credits,
    storage_credits,
)
from opendepin.sectors.storage.reports import delete_message, expiry_message, put_message, stored_message

SEGMENT_SIZE = 16 * 2**20
CATALOG = "catalog.json"


class StorageError(RuntimeError):
    """A put or get that cannot be completed; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider as the client trusts it: the node's device record, reached at `url`."""

    device_id: str
    prefix: str
    url: str


@dataclass
class PieceRecord:
    index: int
    device_id: str
    url: str
    root: str
    size: int
    provider_sig: str
    receipt: str
    expires: int = 0
    """Until when the piece is paid for (unix time; 0: a piece stored before expiries)."""
    placed: int = 0
    """When the client handed the piece over (unix time; 0: a piece stored before this was recorded)."""


@dataclass
class SegmentRecord:
    segment: str
    length: int
    sha256: str
    pieces: list[PieceRecord]


@dataclass
class ObjectRecord:
    object_id: str
    name: str
    size: int
    sha256: str
    k: int
    n: int
    created: int
    segments: list[SegmentRecord] = field(default_factory=list)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> ObjectRecord:
        segments = [
            SegmentRecord(s["segment"], s["length"], s["sha256"], [PieceRecord(**p) for p in s["pieces"]])
            for s in raw["segments"]
        ]
        return cls(**{**raw, "segments": segments})


class Catalog:
    """The client's object metadata in `home/catalog.json` (written atomically)."""

    def __init__(self, home: Path) -> None:
        self.path = home / CATALOG
        home.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def load(self) -> dict[str, ObjectRecord]:
        if not self.path.exists():
            return {}
        return {k: ObjectRecord.of(v) for k, v in json.loads(self.path.read_text()).items()}

    def save(self, objects: dict[str, ObjectRecord]) -> None:
        tmp = self.path.with_name(CATALOG + ".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in sorted(objects.items())}, indent=1))
        tmp.replace(self.path)

    def add(self, record: ObjectRecord) -> None:
        with self._lock:
            objects = self.load()
            objects[record.object_id] = record
            self.save(objects)

    def remove(self, object_id: str) -> None:
        with self._lock:
            objects = self.load()
            objects.pop(object_id, None)
            self.save(objects)


def verify_stored(
    provider: str, segment: str, index: int, root: str, size: int, client: str, sig: bytes
) -> bool:
    """Did `provider` sign that it stored this piece for `client`?"""
    try:
        return parse_device_id(provider).verify(
            stored_message(segment, index, root, size, client).encode(), sig
        )
    except ValueError:
        return False


def choose(
    providers: Sequence[Provider], n: int, rng: random.Random, exclude: set[str] = frozenset()
) -> list[Provider]:  # type: ignore[assignment]
    """Up to `n` providers at random, one per prefix, none of whose prefixes or ids are in `exclude`."""
    pool = [p for p in providers if p.device_id not in exclude and p.prefix not in exclude]
    rng.shuffle(pool)
    chosen: list[Provider] = []
    prefixes: set[str] = set()
    for p in pool:
        if p.prefix not in prefixes:
            chosen.append(p)
            prefixes.add(p.prefix)
        if len(chosen) == n:
            break
    return chosen


class StorageClient:
    """Puts and gets objects through providers, paying with `wallet`'s data credits."""

    def __init__(
        self,
        wallet: Wallet,
        node: str,
        provider_urls: Sequence[str],
        home: Path,
        segment_size: int = SEGMENT_SIZE,
        prepaid_hours: int = 720,
        timeout: float = 60.0,
    ) -> None:
        self.wallet = wallet
        self.node = NodeClient(node)
        self.provider_urls = list(provider_urls)
        self.catalog = Catalog(home)
        self.segment_size = segment_size
        self.prepaid_hours = prepaid_hours
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.rng = random.Random(secrets.randbits(64))
        self._params: StorageParams | None = None
        self._providers: list[Provider] | None = None
        """The providers a repair places on (looked up once; `forget_providers` asks again)."""

    def close(self) -> None:
        self.http.close()
        self.node.close()

    @property
    def params(self) -> StorageParams:
        if self._params is None:
            self._params = StorageParams.model_validate(self.node.rules())
        return self._params

    def forget_providers(self) -> None:
        """Look the providers up again at the next repair (a long-running repairer, each round)."""
        self._providers = None

    def providers(self) -> list[Provider]:
        """Providers that answer at their URL and that the node knows, with the prefix the node holds."""
        found = []
        for url in self.provider_urls:
            try:
                info = self.http.get(url.rstrip("/") + "/info", timeout=5).json()
                device = self.node.device(str(info["device_id"]))
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            prefix = None if device is None else device.get("attributes", {}).get("network_prefix")
            if prefix:
                found.append(Provider(device["device_id"], str(prefix), url.rstrip("/")))
        return found

    # receipts
    def _receipt(
        self, device: str, credits: int, quantity: int, unit: str, ref: str, ts: int | None = None
    ) -> str:
        ts = int(time.time()) if ts is None else ts
        receipt = UsageReceipt("storage", device, self.wallet.address, credits, quantity, unit, ref, ts)
        return base64.b64encode(sign_receipt(receipt, self.wallet.sign_text).to_wire()).decode()

    # put
    def put(self, source: BinaryIO, name: str, size: int) -> ObjectRecord:
        p = self.params
        providers = self.providers()
        prefixes = len({x.prefix for x in providers})
        if prefixes < p.n:
            raise StorageError(
                "storage.not_enough_providers",
                f"{len(providers)} providers on {prefixes} prefixes; need {p.n} prefixes",
            )
        object_id = secrets.token_hex(16)
        record = ObjectRecord(object_id, name, size, "", p.k, p.n, int(time.time()))
        whole = hashlib.sha256()
        number = 0
        for chunk in iter_chunks(source, self.segment_size):
            whole.update(chunk)
            record.segments.append(self._put_segment(object_id, number, chunk, providers))
            number += 1
        if number == 0:
            record.segments.append(self._put_segment(object_id, 0, b"", providers))
        record.sha256 = whole.hexdigest()
        self.catalog.add(record)
        return record

    def _put_segment(
        self, object_id: str, number: int, data: bytes, providers: list[Provider]
    ) -> SegmentRecord:
        p = self.params
        segment = hashlib.sha256(f"{self.wallet.address}|{object_id}|{number}".encode()).hexdigest()
        pieces = encode_segment(data, p.k, p.n)
        placed: dict[int, PieceRecord] = {}
        used: set[str] = set()
        tried: set[str] = set()
        pending = list(range(p.n))
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=p.n) as pool:
            while pending:
                targets = choose(providers, len(pending), self.rng, used | tried)
                if len(targets) < len(pending):
                    raise StorageError(
                        "storage.placement_failed",
                        f"segment {number}: {len(placed)} of {p.n} pieces placed; no provider left on an "
                        f"unused prefix ({'; '.join(errors[-3:])})",
                    )
                jobs = {
                    pool.submit(self._upload, target, segment, index, pieces[index]): (index, target)
                    for index, target in zip(pending, targets, strict=False)
                }
                pending = []
                for job, (index, target) in jobs.items():
                    tried |= {target.device_id, target.prefix}
                    try:
                        placed[index] = job.result()
                        used |= {target.device_id, target.prefix}
                    except (StorageError, httpx.HTTPError) as error:
                        errors.append(f"{target.url}: {error}")
                        pending.append(index)
        return SegmentRecord(
            segment, len(data), hashlib.sha256(data).hexdigest(), [placed[i] for i in range(p.n)]
        )

    def _upload(
        self, target: Provider, segment: str, index: int, data: bytes, hours: int | None = None
    ) -> PieceRecord:
        """Hand one piece to `target`, paid for `hours` (default: `prepaid_hours`) from now."""
        p = self.params
        hours = self.prepaid_hours if hours is None else hours
        root = merkle.compute_root(data, p.leaf_size).hex()
        text = put_message(segment, index, target.device_id, root, len(data), p.k, p.n)
        byte_hours = len(data) * hours
        now = int(time.time())
        expires = now + hours * 3_600
        receipt = self._receipt(
            target.device_id,
            storage_credits(byte_hours, p.credits_per_gb_hour),
            byte_hours,
            STORED_UNIT,
            f"put:{segment}:{index}:{secrets.token_hex(8)}",
            now,
        )
        expiry = expiry_message(segment, index, target.device_id, expires)
        headers = {
            "x-client": self.wallet.address,
            "x-client-sig": self.wallet.sign_text(text).hex(),
            "x-k": str(p.k),
            "x-n": str(p.n),
            "x-receipt": receipt,
            "x-expires": str(expires),
            "x-expiry-sig": self.wallet.sign_text(expiry).hex(),
        }
        response = self.http.put(f"{target.url}/pieces/{segment}/{index}", content=data, headers=headers)
        if response.status_code != 200:
            raise StorageError("storage.provider_refused", f"{response.status_code} {response.text[:300]}")
        answer = response.json()
        sig = bytes.fromhex(answer["provider_sig"])
        if answer["root"] != root or not verify_stored(
            target.device_id, segment, index, root, len(data), self.wallet.address, sig
        ):
            raise StorageError(
                "storage.bad_provider_signature", "the provider did not sign the piece we sent"
            )
        return PieceRecord(
            index,
            target.device_id,
            target.url,
            root,
            len(data),
            answer["provider_sig"],
            answer["receipt"],
            expires,
            now,
        )

    # get
    def get(self, object_id: str, out: BinaryIO) -> ObjectRecord:
        record = self.catalog.load().get(object_id)
        if record is None:
            raise StorageError("storage.unknown_object", f"no object {object_id} in the catalog")
        whole = hashlib.sha256()
        for seg in record.segments:
            data = self._get_segment(record, seg)
            whole.update(data)
            out.write(data)
        if whole.hexdigest() != record.sha256:
            raise StorageError(
                "storage.object_mismatch", "the object's SHA-256 differs from the recorded one"
            )
        return record

    def _fetch(self, seg: SegmentRecord, piece: PieceRecord, repair: bool = False) -> bytes:
        p = self.params
        credits = (
            repair_credits(piece.size, p.credits_per_gb_repair)
            if repair
            else egress_credits(piece.size, p.credits_per_gb_egress)
        )
        receipt = self._receipt(
            piece.device_id,
            credits,
            piece.size,
            REPAIR_UNIT if repair else EGRESS_UNIT,
            f"{'repair' if repair else 'get'}:{seg.segment}:{piece.index}:{secrets.token_hex(8)}",
        )
        response = self.http.get(
            f"{piece.url}/pieces/{seg.segment}/{piece.index}", headers={"x-receipt": receipt}
        )
        if response.status_code != 200:
            raise StorageError("storage.provider_refused", f"{response.status_code} {response.text[:200]}")
        data = response.content
        if len(data) != piece.size or merkle.compute_root(data, p.leaf_size).hex() != piece.root:
            raise StorageError(
                "storage.bad_piece", f"piece {piece.index} from {piece.device_id} is not what it signed"
            )
        return data

    def _get_segment(
        self, record: ObjectRecord, seg: SegmentRecord, holders: list[PieceRecord] | None = None
    ) -> bytes:
        """k verified pieces, asked in parallel; each failure asks the next holder (`holders`: a repair's
        healthy holders, paid at the repair rate)."""
        repair = holders is not None
        queue = list(seg.pieces if holders is None else holders)
        self.rng.shuffle(queue)
        got: dict[int, bytes] = {}
        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=record.k) as pool:
            running: dict[Future[bytes], PieceRecord] = {}
            while len(got) < record.k:
                while queue and len(running) + len(got) < record.k:
                    piece = queue.pop()
                    running[pool.submit(self._fetch, seg, piece, repair)] = piece
                if not running:
                    raise StorageError(
                        "storage.not_enough_pieces",
                        f"segment {seg.segment}: {len(got)} good pieces of {record.k} needed "
                        f"({'; '.join(failures)})",
                    )
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    piece = running.pop(future)
                    try:
                        got[piece.index] = future.result()
                    except (StorageError, httpx.HTTPError) as error:
                        failures.append(f"{piece.device_id[:20]}: {type(error).__name__}: {error}"[:200])
        data = decode_segment(got, record.k, record.n, seg.length)
        if hashlib.sha256(data).hexdigest() != seg.sha256:
            raise StorageError("storage.segment_mismatch", f"segment {seg.segment} decodes to other bytes")
        return data

    # repair
    def healthy(self, seg: SegmentRecord, piece: PieceRecord) -> bool:
        """Does the holder answer, with the bytes whose root we recorded (`/stat`, free)?"""
        try:
            response = self.http.get(f"{piece.url}/pieces/{seg.segment}/{piece.index}/stat", timeout=10)
            return response.status_code == 200 and response.json().get("root") == piece.root
        except (httpx.HTTPError, ValueError):
            return False

    def repair(self, object_id: str, force: bool = False) -> dict[str, int]:
        """Rebuild every segment whose healthy pieces fell to the repair threshold (all damaged segments
        with `force`): fetch k healthy pieces at the repair rate, decode, re-code, and place the missing
        pieces on providers on prefixes the segment does not use yet. Returns counts."""
        record = self.catalog.load().get(object_id)
        if record is None:
            raise StorageError("storage.unknown_object", f"no object {object_id} in the catalog")
        p = self.params
        counts = {"segments": len(record.segments), "repaired": 0, "pieces_placed": 0}
        for seg in record.segments:
            healthy = {piece.index for piece in seg.pieces if self.healthy(seg, piece)}
            if len(healthy) == record.n or (len(healthy) > p.repair_threshold and not force):
                continue
            counts["pieces_placed"] += self.rebuild(record, seg, healthy)
            counts["repaired"] += 1
        return counts

    def rebuild(self, record: ObjectRecord, seg: SegmentRecord, healthy: set[int]) -> int:
        """Rebuild `seg` of `record` from its pieces numbered in `healthy` (fetched at the repair rate) and
        place every other piece on a provider whose id and prefix the segment's healthy pieces do not use
        (nor the id of the holder that lost it); the catalog keeps the new holders. Returns the pieces
        placed."""
        kept = {piece.index: piece for piece in seg.pieces if piece.index in healthy}
        if len(kept) < record.k:
            raise StorageError(
                "storage.not_enough_pieces",
                f"segment {seg.segment}: {len(kept)} healthy pieces, {record.k} needed to rebuild",
            )
        data = self._get_segment(record, seg, list(kept.values()))
        pieces = encode_segment(data, record.k, record.n)
        if self._providers is None:
            self._providers = self.providers()
        providers = self._providers
        by_id = {x.device_id: x for x in providers}
        taken = {piece.device_id for piece in seg.pieces} | {
            by_id[piece.device_id].prefix for piece in kept.values() if piece.device_id in by_id
        }
        # a new piece is paid until the segment's latest expiry (at least an hour)
        until = max((piece.expires for piece in kept.values()), default=0)
        hours = max(1, -(-(until - int(time.time())) // 3_600)) if until else None
        placed_count = 0
        for index in range(record.n):
            if index in kept:
                continue
            placed = None
            for target in choose(providers, len(providers), self.rng, taken):
                try:
                    placed = self._upload(target, seg.segment, index, pieces[index], hours)
                except (StorageError, httpx.HTTPError):
                    taken |= {target.device_id, target.prefix}
                    continue
                taken |= {target.device_id, target.prefix}
                break
            if placed is None:
                raise StorageError(
                    "storage.placement_failed",
                    f"segment {seg.segment}: no provider left for piece {index}",
                )
            kept[index] = placed
            placed_count += 1
        seg.pieces = [kept[i] for i in range(record.n)]
        self.catalog.add(record)
        return placed_count

    # renew
    def renew(self, object_id: str, hours: int) -> dict[str, int]:
        """Pay every piece of the object for `hours` more from its current expiry: a byte-hours receipt
        and the client's signature over the later expiry, to each holder (`POST .../renew`). A piece that
        already expired cannot be renewed (the network dropped it): put the object again, or repair.
        Returns counts; the catalog keeps each piece's new expiry."""
        if hours < 1:
            raise StorageError("storage.bad_request", "renew by at least one hour")
        record = self.catalog.load().get(object_id)
        if record is None:
            raise StorageError("storage.unknown_object", f"no object {object_id} in the catalog")
        p = self.params
        counts = {"pieces": 0, "renewed": 0, "failed": 0, "credits": 0}
        for seg in record.segments:
            for piece in seg.pieces:
                counts["pieces"] += 1
                expires = piece.expires + hours * 3_600
                byte_hours = piece.size * hours
                credits = storage_credits(byte_hours, p.credits_per_gb_hour)
                receipt = self._receipt(
                    piece.device_id,
                    credits,
                    byte_hours,
                    STORED_UNIT,
                    f"renew:{seg.segment}:{piece.index}:{secrets.token_hex(8)}",
                )
                expiry = expiry_message(seg.segment, piece.index, piece.device_id, expires)
                headers = {
                    "x-receipt": receipt,
                    "x-expires": str(expires),
                    "x-expiry-sig": self.wallet.sign_text(expiry).hex(),
                }
                try:
                    response = self.http.post(
                        f"{piece.url}/pieces/{seg.segment}/{piece.index}/renew", headers=headers
                    )
                    renewed = response.status_code == 200 and response.json().get("expires") == expires
                except (httpx.HTTPError, ValueError):
                    renewed = False
                if renewed and piece.expires:
                    piece.expires = expires
                    counts["renewed"] += 1
                    counts["credits"] += credits
                else:
                    counts["failed"] += 1
        self.catalog.add(record)
        return counts

    # ls, rm
    def ls(self) -> list[ObjectRecord]:
        return sorted(self.catalog.load().values(), key=lambda r: (r.created, r.object_id))

    def rm(self, object_id: str) -> dict[str, int]:
        """Ask every holder to drop its pieces (client-signed); the object leaves the catalog."""
        record = self.catalog.load().get(object_id)
        if record is None:
            raise StorageError("storage.unknown_object", f"no object {object_id} in the catalog")
        counts = {"deleted": 0, "failed": 0}
        for seg in record.segments:
            for piece in seg.pieces:
                sig = self.wallet.sign_text(delete_message(seg.segment, piece.index, piece.device_id)).hex()
                try:
                    response = self.http.delete(
                        f"{piece.url}/pieces/{seg.segment}/{piece.index}", headers={"x-client-sig": sig}
                    )
                    counts["deleted" if response.status_code == 200 else "failed"] += 1
                except httpx.HTTPError:
                    counts["failed"] += 1
        self.catalog.remove(object_id)
        return counts


def iter_chunks(source: BinaryIO, size: int) -> Iterator[bytes]:
    while True:
        chunk = source.read(size)
        if not chunk:
            return
        yield chunk


def client_wallet(home: Path, key_hex: str | None = None) -> Wallet:
    """The client's EVM key: given, else `$DEPIN_STORAGE_KEY`, else `home/client.key` (created, 0600)."""
    key_hex = key_hex or os.environ.get("DEPIN_STORAGE_KEY")
    if key_hex:
        return Wallet(bytes.fromhex(key_hex.removeprefix("0x")))
    path = home / "client.key"
    if path.exists():
        return Wallet(bytes.fromhex(path.read_text().strip()))
    wallet = Wallet.generate()
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(wallet.private_key.hex())
    path.chmod(0o600)
    return wallet
