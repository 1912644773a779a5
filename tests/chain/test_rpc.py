"""The rpc backend against a real anvil node: clear errors, nonce handling, and gas that the embedded
backend reproduces exactly (so `benchmarks/gas.py` figures hold on a real node)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from opendepin.chain.anvil import AnvilNode, free_port
from opendepin.chain.backend import (
    ChainBackend,
    ChainError,
    DeployParams,
    NodeUnavailableError,
    TransactionRevertedError,
)
from opendepin.chain.embedded import EMBEDDED_CHAIN_ID, EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.rpc import RpcBackend
from opendepin.chain.schedule import EmissionCap
from tests.chain.helpers import addr_of, build_tree, key_of

pytestmark = pytest.mark.integration

UNIT = 10**18


def params(chain: ChainBackend) -> DeployParams:
    return DeployParams(
        token_name="T",
        token_symbol="T",
        decimals=18,
        max_supply=10**9 * UNIT,
        emission_cap=EmissionCap(10**6 * UNIT, 10_000, 0),
        oracles=chain.keys.oracle_addresses,
    )


def test_invalid_node_down_says_what_to_do(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NodeUnavailableError, match=f"cannot reach the JSON-RPC node at {url}.*--rpc-url"):
        RpcBackend(tmp_path, load_or_create_keys(tmp_path), url, retries=1, backoff_seconds=0.01)


def test_two_clients_share_a_sender_nonce(tmp_path: Path) -> None:
    with AnvilNode.start() as node:
        keys = load_or_create_keys(tmp_path)
        node.set_balance(keys.address("operator"), 10**21)
        node.set_balance(keys.address("feeder"), 10**21)
        first = RpcBackend(tmp_path, keys, node.url)
        first.deploy(params(first))
        second = RpcBackend(tmp_path, keys, node.url)
        blocks = []
        for _ in range(3):  # interleaved senders with the same key
            blocks.append(first.set_price("1").block_number)
            blocks.append(second.set_price("1").block_number)
        assert blocks == sorted(set(blocks))  # six transactions, none lost to a nonce clash
        assert second.status().price_usd_wad == UNIT


def test_embedded_gas_equals_anvil_gas(tmp_path: Path) -> None:
    """Same keys, same chain id, same transactions: identical gas on both backends."""
    owners = [key_of(500 + i) for i in range(8)]
    tree = build_tree([(addr_of(k), (i + 1) * UNIT) for i, k in enumerate(owners)])
    later = build_tree([(addr_of(k), (i + 1 + (i == 3)) * UNIT) for i, k in enumerate(owners)])
    gas: dict[str, list[int]] = {}
    with AnvilNode.start(chain_id=EMBEDDED_CHAIN_ID) as node:
        keys = load_or_create_keys(tmp_path / "shared")
        node.set_balance(keys.address("operator"), 10**21)
        chains: dict[str, ChainBackend] = {
            "embedded": EmbeddedBackend(tmp_path / "embedded", keys),
            "rpc": RpcBackend(tmp_path / "rpc", keys, node.url),
        }
        for name, chain in chains.items():
            chain.deploy(params(chain))
            assert chain.contracts == chains["embedded"].contracts
            chain.fund(addr_of(owners[3]), 10**18)
            gas[name] = []
            for epoch, trees in enumerate([tree, later]):  # first: slots from zero; then steady state
                posted = chain.post_epoch(epoch, trees.root, b"\x01" * 32, (36 + epoch) * UNIT)
                cumulative = (4 + epoch) * UNIT
                claim = chain.claim(owners[3], cumulative, trees.proof(addr_of(owners[3]), cumulative))
                gas[name] += [posted.gas_used, claim.gas_used]
            chain.close()
    assert gas["embedded"] == gas["rpc"]


def _deployed_on(node: AnvilNode, data_dir: Path) -> RpcBackend:
    keys = load_or_create_keys(data_dir)
    node.set_balance(keys.address("operator"), 10**21)
    node.set_balance(keys.address("feeder"), 10**21)
    chain = RpcBackend(data_dir, keys, node.url)
    chain.deploy(params(chain))
    return chain


def test_waits_for_confirmations(tmp_path: Path) -> None:
    with AnvilNode.start() as node:
        chain = _deployed_on(node, tmp_path)
        node.request("evm_setIntervalMining", [1])  # from now on a block every second, none on demand
        waiting = RpcBackend(tmp_path, chain.keys, node.url, confirmations=2)
        receipt = waiting.set_price("1")
        latest = int(node.request("eth_blockNumber", []), 16)
        assert latest - receipt.block_number + 1 >= 2


def test_invalid_transaction_reverted_in_its_block_reports_the_reason(tmp_path: Path) -> None:
    """Two claims of one leaf pass gas estimation together; the one mined second reverts on chain."""
    owner, helper = key_of(700), key_of(701)
    tree = build_tree([(addr_of(owner), UNIT), (addr_of(helper), UNIT)])
    proof = tree.proof(addr_of(owner), UNIT)
    with AnvilNode.start() as node:
        chain = _deployed_on(node, tmp_path)
        chain.post_epoch(0, tree.root, b"\x01" * 32, 2 * UNIT)
        for key in (owner, helper):
            node.set_balance(addr_of(key), 10**20)
        node.request("evm_setAutomine", [False])
        outcomes: list[object] = []
        both_estimated = threading.Barrier(2, timeout=60)

        class EstimateTogether(RpcBackend):
            """Both claims estimate gas before either is sent (anvil estimates on the pending block)."""

            def _rpc(self, method: str, params: list[Any], action: str | None = None) -> Any:
                result = super()._rpc(method, params, action)
                if method == "eth_estimateGas":
                    both_estimated.wait()
                return result

        def claim(sender: str) -> None:
            client = EstimateTogether(tmp_path, chain.keys, node.url)
            try:
                outcomes.append(client.claim(owner, UNIT, proof, sender_key=sender))
            except TransactionRevertedError as error:
                outcomes.append(error)

        threads = [threading.Thread(target=claim, args=(sender,)) for sender in (owner, helper)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while int(node.request("txpool_status", [])["pending"], 16) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        node.mine()
        for thread in threads:
            thread.join()
    errors = [o for o in outcomes if isinstance(o, TransactionRevertedError)]
    assert len(outcomes) == 2 and len(errors) == 1
    assert errors[0].reason == "distributor: nothing to claim" and errors[0].tx_hash is not None


def test_invalid_unfunded_operator_is_told_to_fund(tmp_path: Path) -> None:
    with AnvilNode.start() as node:
        chain = RpcBackend(tmp_path, load_or_create_keys(tmp_path), node.url)
        with pytest.raises(ChainError, match=f"{chain.keys.address('operator')} cannot pay for gas"):
            chain.deploy(params(chain))
