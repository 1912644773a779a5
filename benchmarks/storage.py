"""Benchmark: the storage sector's client throughput, erasure coding and audit cost.

1. put and get MB/s of one file through a local network of real processes (`depin serve` on an embedded
   chain, n provider agents on localhost, the client paying with data credits), against a plain copy of the
   same file on the same disk (`shutil.copyfile`), in the same run. Wall time: the work spans processes.
2. Erasure coding MB/s of `codec.encode_segment` / `decode_segment` (padding, k blocks, zfec) against zfec's
   raw `Encoder.encode` / `Decoder.decode` on the same blocks (best of interleaved rounds, CPU time).
3. Audit cost per provider per epoch: CPU time a provider spends answering one epoch's audits (24 periods:
   reservoir, piece read, Merkle tree, leaf proofs, stripes) and the node's share of judging them
   (`evaluate_storage` over N providers / N), against hashing all the provider's bytes once.

    .venv/bin/python benchmarks/storage.py [--mib 32] [--rounds 3] [--providers 10] [--skip-network]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import zfec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opendepin.sectors.storage import merkle  # noqa: E402
from opendepin.sectors.storage.audit import Piece, due_for  # noqa: E402
from opendepin.sectors.storage.codec import decode_segment, encode_segment  # noqa: E402
from opendepin.sectors.storage.evaluate import evaluate_storage  # noqa: E402
from opendepin.sectors.storage.params import StorageParams  # noqa: E402
from opendepin.sectors.storage.pieces import PieceMeta, PieceStore, tree_of  # noqa: E402

MIB = 2**20


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def bench_codec(rounds: int, k: int, n: int, size: int) -> None:
    data = random.Random(1).randbytes(size)
    block = size // k
    blocks = [data[i * block : (i + 1) * block] for i in range(k)]
    encoder, decoder = zfec.Encoder(k, n), zfec.Decoder(k, n)
    pieces = encode_segment(data, k, n)
    chosen = {i: pieces[i] for i in range(n - k, n)}  # parity pieces only: the hardest decode
    raw_enc = ours_enc = raw_dec = ours_dec = float("inf")
    for _ in range(rounds):  # interleaved
        raw_enc = min(raw_enc, best(lambda: encoder.encode(blocks), 1))
        ours_enc = min(ours_enc, best(lambda: encode_segment(data, k, n), 1))
        raw_dec = min(raw_dec, best(lambda: decoder.decode(list(chosen.values()), list(chosen)), 1))
        ours_dec = min(ours_dec, best(lambda: decode_segment(chosen, k, n, size), 1))
    mb = size / 1e6
    print(f"erasure coding {k} of {n}, {size // MIB} MiB segments (CPU, best of {rounds})")
    print(
        f"  encode: ours {mb / ours_enc:8.1f} MB/s, zfec raw {mb / raw_enc:8.1f} MB/s, "
        f"ratio {raw_enc / ours_enc:.3f}"
    )
    print(
        f"  decode: ours {mb / ours_dec:8.1f} MB/s, zfec raw {mb / raw_dec:8.1f} MB/s, "
        f"ratio {raw_dec / ours_dec:.3f}"
    )
    assert decode_segment(chosen, k, n, size) == data


def bench_audit(rounds: int, providers: int, pieces_per: int, piece_size: int) -> None:
    """One epoch (24 hourly audits) of `providers` providers holding `pieces_per` pieces each."""
    from tests.sectors.storage.helpers import HOUR, make_net

    params = StorageParams()
    net = make_net(params, providers=max(params.n, providers))
    rng = random.Random(3)
    segments = pieces_per * len(net.devices) // params.n
    puts = []
    # place `segments` segments on the first n providers in turn (one piece per provider and segment)
    order = sorted(net.devices)
    from opendepin.sectors.storage.sim.world import build_segment, make_piece

    for s in range(segments):
        segment, datas = build_segment(rng, params, piece_size)
        holders = [order[(s * params.n + i) % len(order)] for i in range(params.n)]
        for index, device in enumerate(holders):
            piece = make_piece(segment, index, datas[index], params, net.client.address)
            net.pieces.setdefault(device, {})[f"{segment}:{index}"] = piece
            puts.append(net.report(device, "storage.put", 60, net.put_payload(device, piece)))
    audits = [net.audit(t) for t in range(HOUR, 25 * HOUR, HOUR)]
    device = order[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    store = PieceStore(tmp, 2**40)
    for piece in net.pieces[device].values():
        store.put(
            PieceMeta(
                piece.segment,
                piece.index,
                len(piece.data),
                piece.root,
                piece.k,
                piece.n,
                net.client.address,
                "",
            ),
            piece.data,
        )
    rate = Fraction(str(params.stripe_audit_rate))

    def provider_epoch() -> None:
        metas = {m.key: m for m in store.all()}
        listed = [
            Piece(m.key, m.segment, m.index, device, m.size, m.root, m.k, m.n, 0) for m in metas.values()
        ]
        for audit in audits:
            for key, due in due_for(
                audit.challenge_id,
                device,
                listed,
                params.audit_slots + 1,
                rate,
                params.leaf_size,
                params.stripe_size,
            ).items():
                data = store.read(metas[key].segment, metas[key].index) or b""
                merkle.prove(tree_of(data, params.leaf_size), due.leaf)

    def full_hash() -> None:
        for m in store.all():
            hashlib.sha256(store.read(m.segment, m.index) or b"").digest()

    reports = list(puts)
    for audit in audits:
        for d in net.devices:
            reports += net.answers(d, audit)
    data = net.input(0, reports, audits)
    without = net.input(0, list(puts), [])
    provider_cpu = best(provider_epoch, rounds)
    hash_cpu = best(full_hash, rounds)
    node_cpu = best(lambda: evaluate_storage(data, params), rounds) - best(
        lambda: evaluate_storage(without, params), rounds
    )
    held = pieces_per * piece_size
    node_each = node_cpu / len(net.devices)
    print(
        f"audit cost per provider per epoch ({pieces_per} pieces of {piece_size // 1024} KiB = "
        f"{held / MIB:.1f} MiB held, 24 audits, CPU, best of {rounds})"
    )
    print(
        f"  provider answering: {provider_cpu * 1e3:8.1f} ms; hashing all its bytes once: "
        f"{hash_cpu * 1e3:8.1f} ms; ratio {provider_cpu / hash_cpu:.3f}"
    )
    print(
        f"  node judging ({len(net.devices)} providers): {node_each * 1e3:8.1f} ms per provider; "
        f"ratio to hashing its bytes {node_each / hash_cpu:.3f}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


def bench_network(mib: int, providers: int, kill: bool = False) -> None:
    from tests.sectors.storage.processes import CLIENT, fund_client, network_toml, start_node, start_providers

    from opendepin.sectors.storage.client import StorageClient

    params = StorageParams()
    root = Path(tempfile.mkdtemp(prefix="bench-storage-net-"))
    data_dir = root / "node"
    data_dir.mkdir()
    (data_dir / "network.toml").write_text(
        network_toml(params.k, params.n).replace("audit_period_s = 60", "audit_period_s = 3600")
    )
    fund_client(data_dir, usd="500")
    node = start_node(data_dir)
    procs = [node]
    try:
        procs += start_providers(root, node.url, providers)
        source = root / "object.bin"
        rng = random.Random(2)
        with source.open("wb") as f:  # in 16 MiB draws (one randbytes call stops below 256 MiB)
            for offset in range(0, mib * MIB, 16 * MIB):
                f.write(rng.randbytes(min(16 * MIB, mib * MIB - offset)))
        start = time.perf_counter()
        shutil.copyfile(source, root / "copy.bin")
        copy_s = time.perf_counter() - start
        client = StorageClient(CLIENT, node.url, [p.url for p in procs[1:]], root / "client")
        client.prepaid_hours = 1
        start = time.perf_counter()
        with source.open("rb") as f:
            record = client.put(f, "object.bin", mib * MIB)
        put_s = time.perf_counter() - start
        out = io.BytesIO()
        start = time.perf_counter()
        client.get(record.object_id, out)
        get_s = time.perf_counter() - start
        assert out.getvalue() == source.read_bytes(), "the object did not come back byte-identical"
        if kill:  # read it again and SIGKILL n - k providers as soon as its first piece has arrived
            import threading

            lost = procs[1 : 1 + params.n - params.k]
            lock = threading.Lock()
            fetched: list[str] = []
            fetch = client._fetch  # the client's one-piece download, wrapped to inject the fault mid-read

            def fetch_then_kill(seg: object, piece: object, repair: bool = False) -> bytes:
                data = fetch(seg, piece, repair)  # type: ignore[arg-type]
                with lock:
                    fetched.append("piece")
                    if len(fetched) == 1:
                        for proc in lost:
                            proc.kill9()
                return data

            client._fetch = fetch_then_kill  # type: ignore[method-assign]
            again = io.BytesIO()
            start = time.perf_counter()
            client.get(record.object_id, again)
            killed_get_s = time.perf_counter() - start
            assert all(not proc.alive() for proc in lost), "the providers were not killed"
            assert again.getvalue() == source.read_bytes(), "the object did not come back byte-identical"
            print(
                f"  read again, {len(lost)} of {providers} providers (n - k) killed with SIGKILL once its "
                f"first piece had arrived: byte-identical in {killed_get_s:.2f} s (clean read {get_s:.2f} s)"
            )
        client.close()
        mb = mib * MIB / 1e6
        print(f"put/get of {mib} MiB through {providers} provider processes, {params.k} of {params.n} (wall)")
        print(f"  plain copy {mb / copy_s:8.1f} MB/s")
        print(
            f"  put        {mb / put_s:8.1f} MB/s, ratio to copy {copy_s / put_s:.4f} "
            f"(stores {params.n / params.k:.1f}x the bytes)"
        )
        print(f"  get        {mb / get_s:8.1f} MB/s, ratio to copy {copy_s / get_s:.4f}")
    finally:
        for proc in procs:
            proc.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=32, help="file size for put/get")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--providers", type=int, default=10)
    parser.add_argument("--skip-network", action="store_true", help="codec and audits only")
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL n - k providers mid-get (the object must come back)"
    )
    args = parser.parse_args()
    params = StorageParams()
    bench_codec(args.rounds, params.k, params.n, 16 * MIB)
    bench_audit(args.rounds, 20, 100, 64 * 1024)
    if not args.skip_network:
        bench_network(args.mib, max(args.providers, params.n), args.kill)


if __name__ == "__main__":
    main()
