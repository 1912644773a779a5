"""Hypothesis properties of the distributor: total claimed ≤ total posted; a claim with any altered field
fails; minting never exceeds the emission schedule (the running total stays within Σ cap(e))."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.chain.signing import sign_epoch
from tests.chain.conftest import CAP, ORACLE_KEYS, UNIT
from tests.chain.helpers import addr_of, build_tree, key_of

pytestmark = pytest.mark.usefixtures("isolate")

ACCOUNTS = [addr_of(key_of(10 + i)) for i in range(4)]
MANIFEST = b"\x33" * 32
GENESIS = 10_000 * UNIT
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def try_post(distributor: Any, epoch: int, root: bytes, total: int) -> bool:
    chain_id = boa.env.evm.patch.chain_id
    sigs = sign_epoch(ORACLE_KEYS[:1], chain_id, distributor.address, epoch, root, MANIFEST, total)
    try:
        distributor.post_epoch(epoch, root, MANIFEST, total, sigs)
    except boa.BoaError:
        return False
    return True


def try_claim(distributor: Any, account: str, cumulative: int, proof: list[bytes]) -> bool:
    try:
        distributor.claim(account, cumulative, proof)
    except boa.BoaError:
        return False
    return True


epochs_strategy = st.lists(
    st.tuples(
        st.lists(st.integers(0, 1_000), min_size=4, max_size=4),  # increments per account
        st.integers(-500, 500),  # oracles post the tree's total + this (may under- or over-post)
        st.sets(st.integers(0, 3)),  # who claims after this epoch
    ),
    min_size=1,
    max_size=6,
)


@SETTINGS
@given(epochs=epochs_strategy)
def test_total_claimed_never_exceeds_total_posted(system: dict[str, Any], epochs: list[Any]) -> None:
    distributor, token = system["distributor"], system["token"]
    with boa.env.anchor():
        cumulative = [0] * 4
        epoch = 0
        for increments, skew, claimers in epochs:
            new = [c + i for c, i in zip(cumulative, increments, strict=True)]
            total = max(0, sum(new) + len(new) + skew)  # the tree pays Σ (v + 1)
            tree = build_tree(list(zip(ACCOUNTS, [v + 1 for v in new], strict=True)))
            if try_post(distributor, epoch, tree.root, total):
                cumulative, epoch = new, epoch + 1
                for who in sorted(claimers):
                    amount = cumulative[who] + 1
                    try_claim(distributor, ACCOUNTS[who], amount, tree.proof(ACCOUNTS[who], amount))
            assert distributor.total_claimed() <= distributor.total_posted()
            assert token.totalSupply() - GENESIS == distributor.total_claimed()
            assert sum(distributor.claimed(a) for a in ACCOUNTS) == distributor.total_claimed()


@SETTINGS
@given(
    amounts=st.lists(st.integers(1, 10**24), min_size=2, max_size=9),
    which=st.integers(0, 8),
    field=st.sampled_from(["account", "amount", "proof_bit", "proof_drop", "proof_extra"]),
    tweak=st.integers(1, 2**64),
)
def test_claim_with_any_altered_field_fails(
    system: dict[str, Any], amounts: list[int], which: int, field: str, tweak: int
) -> None:
    distributor = system["distributor"]
    accounts = [addr_of(key_of(1_000 + i)) for i in range(len(amounts))]
    values = list(zip(accounts, amounts, strict=True))
    account, amount = values[which % len(values)]
    tree = build_tree(values)
    proof = tree.proof(account, amount)
    with boa.env.anchor():
        assert try_post(distributor, 0, tree.root, min(sum(amounts), CAP.initial_epoch_cap))
        if field == "account":
            account = addr_of(key_of(5_000 + tweak))
        elif field == "amount":
            amount = amount + tweak
        elif field == "proof_bit":
            position = tweak % (32 * len(proof))
            element = bytearray(proof[position // 32])
            element[position % 32] ^= 1 << (tweak % 8)
            proof[position // 32] = bytes(element)
        elif field == "proof_drop":
            proof = proof[:-1]
        else:
            proof = [*proof, tweak.to_bytes(32, "big")]
        assert not try_claim(distributor, account, amount, proof)
        assert distributor.total_claimed() == 0


@SETTINGS
@given(posts=st.lists(st.integers(0, 3_000 * UNIT), min_size=1, max_size=12))
def test_minting_never_exceeds_schedule(system: dict[str, Any], posts: list[int]) -> None:
    distributor, token = system["distributor"], system["token"]
    beneficiary = addr_of(key_of(77))
    with boa.env.anchor():
        epoch = 0
        for emission in posts:
            total = distributor.total_posted() + emission
            root = build_tree([(beneficiary, total)]).root
            ok = try_post(distributor, epoch, root, total)
            assert ok == (total * 10**18 <= CAP.allowance_scaled(epoch))
            if ok:
                epoch += 1
                assert try_claim(distributor, beneficiary, total, []) == (emission > 0)
            schedule_total = CAP.allowance_scaled(epoch - 1) // 10**18 if epoch else 0
            assert distributor.total_posted() <= schedule_total
            assert token.totalSupply() - GENESIS <= schedule_total
