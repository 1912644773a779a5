"""Rewards tree: build a 1,000,000-leaf OpenZeppelin-compatible tree on both cores and 10,000 proofs.
Baselines in the same run: bare single-core keccak-256 of as many hashes as the tree needs (3n − 1: two per
leaf, one per inner node; target tree / bare hashing ≤ 0.7), the same tree built on one thread, and
OpenZeppelin's JavaScript StandardMerkleTree on a smaller tree (skipped if node/tools/js is missing).
Rounds are interleaved and the best of each kept: a busy shared machine slows single runs, not the best.
The tree's figures are warm: one untimed build first loads the compiled keccak kernels (numba; compiled on
a process's first use unless cached on disk by an earlier run), and that first build is printed apart."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import sha3

from opendepin.rewards.merkle import PARALLEL_MIN_LEAVES, RewardsTree, hash_leaf, verify_proof

JS = Path(__file__).resolve().parents[1] / "tools" / "js"


def _values(n: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [("0x" + rng.randbytes(20).hex(), rng.randrange(10**24)) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=10_000)
    parser.add_argument("--oz-leaves", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    values = _values(args.leaves, 1)
    start = time.perf_counter()
    RewardsTree.build(values[:PARALLEL_MIN_LEAVES], workers=2)  # warm-up, untimed: loads the kernels
    warm_up = time.perf_counter() - start

    keccak = sha3.keccak_256
    blobs = [bytes(64)] * (3 * args.leaves - 1)
    bare = build = single = float("inf")
    for _ in range(args.rounds):
        start = time.perf_counter()
        for blob in blobs:
            keccak(blob).digest()
        bare = min(bare, time.perf_counter() - start)
        start = time.perf_counter()
        tree = RewardsTree.build(values)
        build = min(build, time.perf_counter() - start)
        start = time.perf_counter()
        one = RewardsTree.build(values, workers=1)
        single = min(single, time.perf_counter() - start)
        assert one.root == tree.root, "the one-thread tree differs from the two-thread one"
    sample = random.Random(2).sample(values, args.proofs)
    start = time.perf_counter()
    proofs = [tree.proof(address) for address, _ in sample]
    prove = time.perf_counter() - start
    assert all(
        verify_proof(tree.root, hash_leaf(a, v), p) for (a, v), p in zip(sample[:100], proofs, strict=False)
    )

    print(f"tree of {args.leaves:,} leaves, both cores: {build:6.2f} s   (one thread: {single:.2f} s)")
    print(
        f"warm-up (untimed, before the rounds): a {min(args.leaves, PARALLEL_MIN_LEAVES):,}-leaf tree, "
        f"the kernels' first use in this process: {warm_up:.2f} s"
    )
    print(f"{args.proofs:,} proofs:           {prove:6.2f} s   (includes building the address index)")
    print(f"bare single-core keccak-256 x {len(blobs):,}: {bare:6.2f} s")
    print(f"tree / bare hashing: {build / bare:.2f}   (target ≤ 0.7; one thread: {single / bare:.2f})")

    if shutil.which("node") and (JS / "node_modules" / "@openzeppelin").exists():
        small = values[: args.oz_leaves]
        payload = json.dumps([[a, str(v)] for a, v in small])
        start = time.perf_counter()
        out = subprocess.run(
            ["node", str(JS / "oz_tree.mjs")],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            cwd=JS,
        )
        oz = time.perf_counter() - start
        start = time.perf_counter()
        ours_small = RewardsTree.build(small)
        ours = time.perf_counter() - start
        assert json.loads(out.stdout)["root"] == ours_small.root_hex, "roots differ from OpenZeppelin's"
        print(
            f"OpenZeppelin JS, {args.oz_leaves:,} leaves (tree + all proofs): {oz:6.2f} s; "
            f"ours (tree): {ours:.3f} s;"
            f" same root; ratio {oz / ours:.0f}x"
        )
    else:
        print("OpenZeppelin JS reference skipped: run `make test` once to install tools/js")


if __name__ == "__main__":
    main()
