"""Gas of settlement: posting an epoch, one claim against a 1,000,000-leaf tree, and posting late in a long
emission schedule.

Posting carries only (epoch, root, manifest hash, running total, oracle signatures), so its gas must not
grow with the number of devices; a claim verifies a proof of ⌈log2 n⌉ siblings; the schedule cap is an
exponentiation by squaring, so posting epoch 3,650 of a ×0.999-a-day schedule costs about what posting
epoch 1 does. Baselines measured in the same run: posting for 10 devices, a claim against a 1,000-leaf
tree, posting epoch 1 of the long schedule. Runs on the embedded EVM, whose gas equals anvil's for the
same transactions (tests/chain/test_rpc.py); pass --rpc-url to measure on a node.

    .venv/bin/python benchmarks/gas.py [--leaves 1000000] [--schedule-epochs 3650] [--oracles 1 --threshold 1]
                                       [--anvil|--rpc-url URL]

`--anvil` starts a local anvil (tools/js) and funds the keys; with `--rpc-url` the operator key comes from
DEPIN_OPERATOR_KEY and must hold native coin.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from eth_utils import keccak, to_checksum_address

from opendepin.chain.backend import ChainBackend, DeployParams
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.schedule import EmissionCap
from opendepin.chain.signing import address_of
from opendepin.rewards.merkle import RewardsTree

UNIT = 10**18
FAR_FUTURE = 4_102_444_800  # 2100-01-01: every epoch of the long schedule has ended on the embedded clock
DAILY_0999 = EmissionCap(
    initial_epoch_cap=164_383_561_643_835_616_438_357, decay_bps=9_990, decay_period_epochs=1
)
"""60 M tokens a year, ×0.999 a day: the schedule whose cap used to stop decaying after 512 epochs."""
HALVING = EmissionCap(10**11 * UNIT, 5_000, 730)
"""The schedule of the leaves rows (a cap far above what they post)."""


def synthetic_values(n: int, claimer: str) -> list[tuple[str, int]]:
    """n distinct (address, cumulative) leaves; the claimer's leaf is the first one."""
    values = [(claimer, 123 * UNIT)]
    for i in range(1, n):
        address = to_checksum_address(keccak(i.to_bytes(8, "big"))[:20])
        values.append((address, (i % 997 + 1) * UNIT))
    return values


def open_chain(
    data_dir: Path,
    oracles: int,
    threshold: int,
    rpc_url: str | None,
    fund: Callable[[str, int], None] | None,
    cap: EmissionCap = HALVING,
) -> ChainBackend:
    """A fresh deployment (one per measured tree, so every row starts from the same storage)."""
    keys = load_or_create_keys(data_dir, oracle_count=oracles, threshold=threshold)
    if fund is not None:
        fund(keys.address("operator"), 10**21)
    chain: ChainBackend
    if rpc_url:
        from opendepin.chain.rpc import RpcBackend

        chain = RpcBackend(data_dir, keys, rpc_url)
    else:
        chain = EmbeddedBackend(data_dir, keys, clock=lambda: FAR_FUTURE)
    chain.deploy(
        DeployParams(
            token_name="OpenDePIN Token",
            token_symbol="ODP",
            decimals=18,
            max_supply=10**12 * UNIT,
            emission_cap=cap,
            oracles=keys.oracle_addresses,
            oracle_threshold=threshold,
        )
    )
    return chain


def measure(data_dir: Path, args: argparse.Namespace, claimer_key: str, n: int) -> dict[str, int | float]:
    """On a fresh deployment: post epoch 0 with an n-leaf tree and claim (first time: storage goes from
    zero), then post epoch 1 with the claimer's cumulative grown and claim again (steady state)."""
    claimer = address_of(claimer_key)
    chain = open_chain(data_dir, args.oracles, args.threshold, args.rpc_url, args.fund)
    try:
        chain.fund(claimer, 10**18)
        values = synthetic_values(n, claimer)
        started = time.perf_counter()
        tree = RewardsTree.build(values)
        built = time.perf_counter() - started
        gas: dict[str, int] = {}
        for epoch in (0, 1):
            cumulative = values[0][1] * (epoch + 1)
            if epoch:
                tree = RewardsTree.build([(claimer, cumulative), *values[1:]])
            total = sum(amount for _, amount in tree.values)
            posted = chain.post_epoch(epoch, tree.root, keccak(b"manifest %d" % epoch), total)
            claim = chain.claim(claimer_key, cumulative, tree.proof(claimer))
            label = "first" if epoch == 0 else "steady"
            gas[f"post_epoch_{label}"] = posted.gas_used
            gas[f"claim_{label}"] = claim.gas_used
    finally:
        chain.close()
    return {
        "leaves": n,
        "proof_length": len(tree.proof(claimer)),
        **gas,
        "tree_build_seconds": round(built, 2),
    }


def measure_long_schedule(data_dir: Path, args: argparse.Namespace) -> dict[str, int]:
    """Post epochs 0 … N of the ×0.999-a-day schedule in order (each a new root, the total growing by one
    unit) and read the gas of epoch 1 (one decay) and of epoch N, and the cap at N against the exact one."""
    chain = open_chain(data_dir, args.oracles, args.threshold, args.rpc_url, args.fund, DAILY_0999)
    last = args.schedule_epochs
    gas: dict[int, int] = {}
    try:
        for epoch in range(last + 1):
            receipt = chain.post_epoch(epoch, keccak(b"root %d" % epoch), keccak(b"manifest"), epoch + 1)
            if epoch in (1, last):
                gas[epoch] = receipt.gas_used
        cap = int(chain.read("RewardsDistributor", "epoch_cap", last))
    finally:
        chain.close()
    return {
        "epochs": last,
        "post_epoch_at_1": gas[1],
        f"post_epoch_at_{last}": gas[last],
        "cap_on_chain": cap,
        "cap_exact_floor": int(DAILY_0999.exact_epoch_cap(last)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--baseline-leaves", type=int, default=1_000)
    parser.add_argument("--schedule-epochs", type=int, default=3_650)
    parser.add_argument("--oracles", type=int, default=1)
    parser.add_argument("--threshold", type=int, default=1)
    parser.add_argument("--rpc-url", default=None)
    parser.add_argument("--anvil", action="store_true", help="measure on a local anvil started for this run")
    args = parser.parse_args()
    if args.anvil:
        from opendepin.chain.anvil import AnvilNode

        with AnvilNode.start() as node:
            args.rpc_url, args.fund = node.url, node.set_balance
            return run(args)
    args.fund = None
    return run(args)


def run(args: argparse.Namespace) -> int:
    claimer_key = "0x" + keccak(b"gas benchmark claimer").hex()
    rows = []
    for i, n in enumerate([10, args.baseline_leaves, args.leaves]):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(Path(tmp) / str(i), args, claimer_key, n))
    with tempfile.TemporaryDirectory() as tmp:
        schedule = measure_long_schedule(Path(tmp) / "schedule", args)
    small, baseline, large = rows
    print("leaves      proof  post_epoch first/steady   claim first/steady   tree build")
    for row in rows:
        print(
            f"{row['leaves']:>9,}  {row['proof_length']:>5}  "
            f"{row['post_epoch_first']:>10,} / {row['post_epoch_steady']:<8,}"
            f"  {row['claim_first']:>8,} / {row['claim_steady']:<8,}  {row['tree_build_seconds']} s"
        )
    post_ratio = large["post_epoch_steady"] / small["post_epoch_steady"]
    claim_ratio = large["claim_steady"] / baseline["claim_steady"]
    print(f"post_epoch gas (steady), {large['leaves']:,} vs 10 devices: ×{post_ratio:.3f} (must not grow)")
    print(f"claim gas (steady), {large['leaves']:,} vs {baseline['leaves']:,} leaves: ×{claim_ratio:.3f}")
    last = schedule["epochs"]
    schedule_ratio = schedule[f"post_epoch_at_{last}"] / schedule["post_epoch_at_1"]
    late = schedule[f"post_epoch_at_{last}"]
    print(
        f"×0.999/day schedule: post_epoch at epoch {last:,} {late:,} gas vs epoch 1 "
        f"{schedule['post_epoch_at_1']:,}: ×{schedule_ratio:.3f}; cap at epoch {last:,} "
        f"{schedule['cap_on_chain'] / UNIT:,.6f} tokens, exact {schedule['cap_exact_floor'] / UNIT:,.6f}"
    )
    summary = {
        "backend": "anvil" if args.anvil else "rpc" if args.rpc_url else "embedded",
        "oracles": f"{args.threshold}-of-{args.oracles}",
        "rows": rows,
        "post_epoch_ratio": round(post_ratio, 4),
        "claim_ratio": round(claim_ratio, 4),
        "schedule": schedule,
        "schedule_post_ratio": round(schedule_ratio, 4),
    }
    print(json.dumps(summary))
    # Posting must stay flat: the calldata is the same size whatever the tree (zero bytes may differ), and
    # the schedule cap costs O(log epochs); the cap is the exact one rounded down.
    flat = post_ratio < 1.01 and schedule_ratio < 1.1
    return 0 if flat and schedule["cap_on_chain"] == schedule["cap_exact_floor"] else 1


if __name__ == "__main__":
    sys.exit(main())
