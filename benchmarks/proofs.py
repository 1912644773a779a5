"""Proofs of a 1,000,000-leaf epoch: 1,000 proof requests answered from one tree built once (the node's
ProofService), next to rebuilding the tree for each request (what the node did before), measured in the
same run; prints the figures and the ratio (target: the tree built exactly once, ratio ≫ 1)."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from opendepin.rewards.merkle import RewardsTree
from opendepin.services.proofs import ProofService, proof_for
from opendepin.store.base import EpochRecord
from opendepin.store.sqlite import SQLiteStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--baseline-requests", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(7)
    leaves = sorted((f"0x{i:040x}", rng.randrange(1, 10**24)) for i in range(1, args.leaves + 1))
    started = time.perf_counter()
    tree = RewardsTree.build(leaves)
    build_s = time.perf_counter() - started
    manifest = {"root": tree.root_hex, "leaves": [[owner, str(amount)] for owner, amount in leaves]}
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "proofs.sqlite")
        store.save_epoch(EpochRecord(0, 0, 86_400, manifest, {}))
        asked = [leaves[rng.randrange(len(leaves))][0] for _ in range(args.requests)]

        started = time.perf_counter()
        for address in asked[: args.baseline_requests]:
            proof_for(store, 0, address)
        baseline = (time.perf_counter() - started) / args.baseline_requests

        service = ProofService(store)
        started = time.perf_counter()
        for address in asked:
            service.proof(0, address)
        ours = (time.perf_counter() - started) / args.requests
        store.close()
    print(f"tree of {args.leaves:,} leaves built in {build_s:.2f} s")
    print(f"rebuilding per request (baseline): {baseline * 1e3:,.1f} ms per proof")
    print(
        f"cached tree (ours): {ours * 1e3:,.3f} ms per proof over {args.requests:,} requests, "
        f"tree built {service.builds} time(s)"
    )
    print(f"ratio baseline/ours: {baseline / ours:,.0f}x")
    if service.builds != 1:
        raise SystemExit("the tree was built more than once")


if __name__ == "__main__":
    main()
