"""Storage with real processes on localhost: `depin serve` on an embedded chain, seven provider agents on
seven /24s, a client that paid for data credits. Objects are erasure-coded 3 of 6 across distinct providers,
read back byte-identical with n − k = 3 holders gone or lying (one killed with SIGKILL before the read, one
killed mid-read, one whose bytes rotted on disk), the node accepted every put, receipt and audit answer."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opendepin.config import load_config
from opendepin.identity.wallets import Wallet
from opendepin.rewards.epoch import epoch_of, window_for
from opendepin.sectors.base import EpochWindow, SectorInput
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.client import StorageClient, StorageError
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.pricing import STORED_UNIT, storage_credits
from opendepin.sectors.storage.reports import expiry_message, put_message, stored_message
from opendepin.store.sqlite import SQLiteStore
from tests.sectors.storage.processes import (
    CLIENT,
    Proc,
    fund_client,
    network_toml,
    start_node,
    start_providers,
)

K, N, PROVIDERS = 3, 6, 7
STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, list[Proc], Path, int]]:
    root = tmp_path_factory.mktemp("storage-e2e")
    data = root / "node"
    data.mkdir()
    (data / "network.toml").write_text(network_toml(K, N))
    credits = fund_client(data)
    node = start_node(data)
    providers: list[Proc] = []
    try:
        providers.extend(start_providers(root, node.url, PROVIDERS))
        yield node, providers, root, credits
    finally:
        for proc in [*providers, node]:
            proc.stop()


def make_client(node: Proc, providers: list[Proc], root: Path) -> StorageClient:
    client = StorageClient(CLIENT, node.url, [p.url for p in providers], root / "client", segment_size=2**20)
    client.prepaid_hours = 24
    return client


def test_put_places_one_piece_per_provider_and_prefix_signed_and_paid(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    node, providers, root, credits = cluster
    assert credits > 0
    client = make_client(node, providers, root)
    data = random.Random(1).randbytes(1_024)
    record = client.put(io.BytesIO(data), "small.bin", len(data))
    (segment,) = record.segments
    assert len({p.device_id for p in segment.pieces}) == N and [p.index for p in segment.pieces] == list(
        range(N)
    )
    prefixes = {httpx.get(p.url + "/info").json()["network_prefix"] for p in segment.pieces}
    assert len(prefixes) == N
    from opendepin.identity.keys import parse_device_id

    for piece in segment.pieces:
        message = stored_message(segment.segment, piece.index, piece.root, piece.size, CLIENT.address)
        assert parse_device_id(piece.device_id).verify(message.encode(), bytes.fromhex(piece.provider_sig))
    out = io.BytesIO()
    client.get(record.object_id, out)
    assert out.getvalue() == data
    assert [r.object_id for r in client.ls()] == [record.object_id]
    assert client.rm(record.object_id) == {"deleted": N, "failed": 0}
    assert client.ls() == []
    client.close()


def test_every_receipt_the_node_took_is_countersigned_by_the_provider_that_stored_or_served(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    """Providers countersign a put's receipt once the bytes are on disk and a get's once they are sent; the
    node holds no storage receipt without its provider's signature, refuses one the client posts alone
    (`usage.countersignature_required`), and a client without credits leaves no bytes on any provider."""
    node, providers, root, _ = cluster
    client = make_client(node, providers, root)
    data = random.Random(4).randbytes(50_000)
    record = client.put(io.BytesIO(data), "countersigned.bin", len(data))
    (segment,) = record.segments
    out = io.BytesIO()
    client.get(record.object_id, out)
    assert out.getvalue() == data
    config = load_config(root / "node" / "network.toml")
    put_refs = {f"put:{segment.segment}:{p.index}" for p in segment.pieces}
    deadline = time.monotonic() + 30
    while True:  # a get's receipts reach the node after the bytes went out
        store = SQLiteStore(root / "node" / config.store.path)
        try:
            stored = [s.record for s in store.usage_between(0, int(time.time()) + 10)]
        finally:
            store.close()
        mine = [r for r in stored if f":{segment.segment}:" in r.ref]
        gets = [r for r in mine if r.unit == "egress_bytes"]
        if len(gets) >= K or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stored and all(r.countersigned for r in stored)  # every storage receipt, of every test so far
    assert {r.ref.rsplit(":", 1)[0] for r in mine if r.unit == "byte_hours"} == put_refs
    assert len(gets) >= K
    holders = {p.index: p.device_id for p in segment.pieces}
    assert all(r.device == holders[int(r.ref.split(":")[2])] for r in mine)
    # the client alone cannot make the network pay a provider: its own receipt is refused at the door
    lone = client._receipt(segment.pieces[0].device_id, 5, 100, "egress_bytes", "lone:1")
    (status,) = client.node.post_usage([base64.b64decode(lone)])
    assert status["status"] == "usage.countersignature_required"
    # a client without credits: every provider refuses (402 from the node's answer) and keeps nothing
    pieces_before = {p.url: httpx.get(p.url + "/info").json()["pieces"] for p in providers}
    broke = StorageClient(
        Wallet(b"\x0a" * 32), node.url, [p.url for p in providers], root / "broke", segment_size=2**20
    )
    with pytest.raises(StorageError) as refused:
        broke.put(io.BytesIO(data), "unpaid.bin", len(data))
    assert refused.value.reason == "storage.placement_failed"
    assert "usage.insufficient_credits" in str(refused.value)
    assert {p.url: httpx.get(p.url + "/info").json()["pieces"] for p in providers} == pieces_before
    broke.close()
    assert client.rm(record.object_id)["deleted"] == N
    client.close()


def put_expiring(client: StorageClient, holder: Proc, expires: int) -> tuple[httpx.Response, str, str]:
    """One piece put by hand with an expiry of our choosing (the client's own put pays whole hours), one
    hour paid: (answer, segment, device id)."""
    p = client.params
    device = httpx.get(holder.url + "/info").json()["device_id"]
    data = random.Random(expires).randbytes(3_000)
    segment = hashlib.sha256(f"expiring:{expires}:{time.time_ns()}".encode()).hexdigest()
    root = merkle.compute_root(data, p.leaf_size).hex()
    now = int(time.time())
    receipt = client._receipt(
        device,
        storage_credits(len(data), p.credits_per_gb_hour),
        len(data),
        STORED_UNIT,
        f"put:{segment}:0",
        now,
    )
    headers = {
        "x-client": CLIENT.address,
        "x-client-sig": CLIENT.sign_text(put_message(segment, 0, device, root, len(data), p.k, p.n)).hex(),
        "x-k": str(p.k),
        "x-n": str(p.n),
        "x-receipt": receipt,
        "x-expires": str(expires),
        "x-expiry-sig": CLIENT.sign_text(expiry_message(segment, 0, device, expires)).hex(),
    }
    return httpx.put(f"{holder.url}/pieces/{segment}/0", content=data, headers=headers), segment, device


def test_renewal_moves_every_expiry_and_an_expired_piece_is_gone(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    """`renew` pays every piece for more hours from its expiry (countersigned receipts, `storage.renew`
    registered); a piece past its expiry is served no more, cannot be renewed, and leaves the registry."""
    node, providers, root, _ = cluster
    client = make_client(node, providers, root)
    client.prepaid_hours = 1
    data = random.Random(6).randbytes(20_000)
    record = client.put(io.BytesIO(data), "renewed.bin", len(data))
    (segment,) = record.segments
    before = {p.index: p.expires for p in segment.pieces}
    assert all(0 < e - time.time() <= 3_600 for e in before.values())
    counts = client.renew(record.object_id, 2)
    assert counts["renewed"] == N and counts["failed"] == 0 and counts["credits"] > 0
    (renewed,) = client.catalog.load()[record.object_id].segments
    assert {p.index: p.expires for p in renewed.pieces} == {i: e + 7_200 for i, e in before.items()}
    out = io.BytesIO()
    client.get(record.object_id, out)
    assert out.getvalue() == data
    # a piece whose expiry is past what its receipt paid for is refused; one that expires in 2 s is taken
    holder = providers[0]
    too_long, _, _ = put_expiring(client, holder, int(time.time()) + 2 * 3_600)
    assert too_long.status_code == 400 and too_long.json()["detail"]["reason"] == "storage.bad_expiry"
    taken, short, short_device = put_expiring(client, holder, int(time.time()) + 2)
    assert taken.status_code == 200, taken.text
    time.sleep(3)
    gone = httpx.get(f"{holder.url}/pieces/{short}/0", headers={"x-receipt": "x"})
    assert gone.status_code == 410 and gone.json()["detail"]["reason"] == "storage.expired"
    late = httpx.post(f"{holder.url}/pieces/{short}/0/renew")
    assert late.status_code == 410 and late.json()["detail"]["reason"] == "storage.expired"

    config = load_config(root / "node" / "network.toml")
    params = load_sectors(config)["storage"].params
    # the epoch so far: it ends now (at the epoch's end every piece paid for hours only has expired)
    now = int(time.time())
    epoch = window_for(config, epoch_of(config, now))
    window = EpochWindow(epoch.number, epoch.start, now)
    store = SQLiteStore(root / "node" / config.store.path)
    try:
        usage = store.usage_between(0, now + 10)
        inputs = SectorInput(
            window=window,
            devices=store.devices(),
            reports=store.reports_between(window.start, window.end),
            challenges=store.challenges_between(window.start, window.end),
            usage=[s.record for s in store.usage_between(window.start, window.end + 1)],
        )
    finally:
        store.close()
    renew_receipts = [s.record for s in usage if s.record.ref.startswith(f"renew:{segment.segment}:")]
    assert len(renew_receipts) == N and all(r.countersigned for r in renew_receipts)
    assert {r.quantity for r in renew_receipts} == {p.size * 2 for p in segment.pieces}
    outcome = evaluate_storage(inputs, params)  # type: ignore[arg-type]
    by_id = {v.report_id: v for v in outcome.verdicts}
    renews = [
        r for r in inputs.reports if r.kind == "storage.renew" and r.payload["segment"] == segment.segment
    ]
    assert len(renews) == N and {by_id[r.report_id].reason for r in renews} == {"ok"}
    # every put and renewal named its receipt, which paid exactly up to the expiry the client signed
    puts = [r for r in inputs.reports if r.kind == "storage.put"]
    assert puts and all(r.payload["receipt"] for r in puts + renews)
    assert all(by_id[r.report_id].evidence["paid_until"] >= r.payload["expires"] for r in puts + renews)
    assert not any("signed_expires" in by_id[r.report_id].evidence for r in puts + renews)
    pieces = outcome.state["pieces"]
    assert {pieces[f"{segment.segment}:{p.index}"][6] for p in renewed.pieces} == {
        p.expires for p in renewed.pieces
    }
    assert f"{short}:0" not in pieces  # expired: the network dropped it by itself
    expired = [n for n in outcome.notes if n.reason == "storage.expired" and n.device_id == short_device]
    assert expired and expired[0].evidence["pieces"] >= 1
    assert client.rm(record.object_id)["deleted"] == N
    client.close()


def test_repair_rebuilds_a_lost_piece_on_another_provider(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    node, providers, root, _ = cluster
    client = make_client(node, providers, root)
    data = random.Random(3).randbytes(300_000)
    record = client.put(io.BytesIO(data), "repair.bin", len(data))
    (segment,) = record.segments
    by_url = {p.url: p for p in providers}
    lost = segment.pieces[2]
    by_url[lost.url].kill9()
    assert client.repair(record.object_id) == {"segments": 1, "repaired": 0, "pieces_placed": 0}  # 5 > 4
    assert client.repair(record.object_id, force=True) == {"segments": 1, "repaired": 1, "pieces_placed": 1}
    (rebuilt,) = client.catalog.load()[record.object_id].segments
    moved = rebuilt.pieces[2]
    assert moved.device_id != lost.device_id and moved.root == lost.root  # the same bytes, elsewhere
    assert {p.device_id for p in rebuilt.pieces} == {p.device_id for p in segment.pieces} - {
        lost.device_id
    } | {moved.device_id}
    assert all(client.healthy(rebuilt, p) for p in rebuilt.pieces)
    out = io.BytesIO()
    client.get(record.object_id, out)
    assert out.getvalue() == data
    client.close()


def test_get_survives_n_minus_k_providers_killed_or_lying(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    node, providers, root, _ = cluster
    client = make_client(node, providers, root)
    data = random.Random(2).randbytes(6 * 2**20 + 12_345)
    record = client.put(io.BytesIO(data), "big.bin", len(data))
    assert len(record.segments) == 7 and record.sha256 == hashlib.sha256(data).hexdigest()
    by_url = {p.url: p for p in providers}
    holders = [by_url[p.url] for p in record.segments[0].pieces]
    liar, killed_before, killed_during = holders[0], holders[1], holders[2]
    # the liar's bytes rot on its disk: one flipped byte in every 4 KiB leaf of every piece it holds
    for path in (root / f"provider-{providers.index(liar)}" / "pieces").glob("*/*"):
        if path.suffix == "":
            raw = bytearray(path.read_bytes())
            for offset in range(0, len(raw), 4_096):
                raw[offset] ^= 0xFF
            path.write_bytes(bytes(raw))
    STATE["liar"] = httpx.get(liar.url + "/info").json()["device_id"]
    killed_before.kill9()
    out = io.BytesIO()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            client.get(record.object_id, out)
        except BaseException as error:
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.05)
    killed_during.kill9()
    reader.join(timeout=120)
    assert not errors and out.getvalue() == data
    # the same read with one more holder gone fails loudly, never with wrong bytes
    holders[3].kill9()
    with pytest.raises(StorageError) as failed:
        client.get(record.object_id, io.BytesIO())
    assert failed.value.reason == "storage.not_enough_pieces"
    client.close()


def test_the_next_audit_names_the_provider_whose_bytes_rotted(
    cluster: tuple[Proc, list[Proc], Path, int],
) -> None:
    """Every live provider answers the node's next audit (the node accepts the signed proofs); the epoch's
    rules run over what the node stored name the provider whose bytes rotted (`storage.corrupt`, its leaf
    does not prove to the root it signed) and no other."""
    _, providers, root, _ = cluster
    live = [p for p in providers if p.alive()]
    before = {p.url: set(httpx.get(p.url + "/info").json()["audits"]) for p in live}
    deadline = time.monotonic() + 90
    answered: dict[str, dict[str, int]] = {}
    while time.monotonic() < deadline:
        infos = {p.url: httpx.get(p.url + "/info").json() for p in live}
        answered = {
            url: counts
            for url, info in infos.items()
            for audit, counts in info["audits"].items()
            if audit not in before[url] and info["pieces"]
        }
        if len(answered) == sum(1 for i in infos.values() if i["pieces"]):
            break
        time.sleep(1)
    assert answered and all(set(a) == {"accepted"} for a in answered.values()), answered

    config = load_config(root / "node" / "network.toml")
    params = load_sectors(config)["storage"].params
    window = window_for(config, epoch_of(config, int(time.time())))
    store = SQLiteStore(root / "node" / config.store.path)
    try:
        data = SectorInput(
            window=window,
            devices=store.devices(),
            reports=store.reports_between(window.start, window.end),
            challenges=store.challenges_between(window.start, window.end),
            usage=[s.record for s in store.usage_between(window.start, window.end)],
        )
    finally:
        store.close()
    out = evaluate_storage(data, params)  # type: ignore[arg-type]
    device_of = {r.report_id: r.device_id for r in data.reports}
    named = {
        device_of[v.report_id] for v in out.verdicts if v.reason in ("storage.corrupt", "storage.missing")
    }
    assert named == {STATE["liar"]}
    corrupt = [v for v in out.verdicts if v.reason == "storage.corrupt"]
    assert all(
        v.evidence.get("proof") == "does not hash to the root" or v.evidence.get("named") for v in corrupt
    )
