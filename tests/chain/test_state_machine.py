"""A hypothesis state machine over the distributor: any interleaving of postings (the oracles may post
less or more than the tree grew), claims, altered claims and re-postings keeps the model and the contract
in agreement, and total claimed ≤ total posted = what the token minted (DESIGN.md, "Tests")."""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

import boa
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from opendepin.chain.artifacts import contract_path
from opendepin.chain.signing import sign_epoch
from tests.chain.conftest import CAP, ORACLE_KEYS
from tests.chain.helpers import Tree, addr_of, build_tree, key_of

ACCOUNTS = [addr_of(key_of(20 + i)) for i in range(4)]
MANIFEST = b"\x66" * 32


@cache
def _deployer(name: str) -> Any:
    return boa.load_partial(str(contract_path(name)))


class DistributorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._anchor = contextlib.ExitStack()
        self._anchor.enter_context(boa.env.anchor())
        admin = boa.env.generate_address("machine-admin")
        with boa.env.prank(admin):
            self.token = _deployer("Token").deploy("T", "T", 18, 10**30, admin, 0)
            self.distributor = _deployer("RewardsDistributor").deploy(
                self.token.address,
                [addr_of(ORACLE_KEYS[0])],
                1,
                CAP.initial_epoch_cap,
                CAP.decay_bps,
                CAP.decay_period_epochs,
                0,
                0,
                0,
            )
            self.token.set_distributor(self.distributor.address)
        self.cumulative = [0] * 4  # the latest posted tree (model)
        self.tree: Tree | None = None
        self.next_epoch = 0
        self.posted = 0
        self.claimed = [0] * 4

    def _post(self, epoch: int, tree: Tree, emission: int) -> bool:
        chain_id = boa.env.evm.patch.chain_id
        sigs = sign_epoch(
            ORACLE_KEYS[:1], chain_id, self.distributor.address, epoch, tree.root, MANIFEST, emission
        )
        try:
            self.distributor.post_epoch(epoch, tree.root, MANIFEST, emission, sigs)
        except boa.BoaError:
            return False
        return True

    @rule(
        increments=st.lists(st.integers(0, 10**6), min_size=4, max_size=4), skew=st.integers(-(10**6), 10**6)
    )
    def post(self, increments: list[int], skew: int) -> None:
        new = [c + i for c, i in zip(self.cumulative, increments, strict=True)]
        tree = build_tree(list(zip(ACCOUNTS, [v + 1 for v in new], strict=True)))
        emission = max(0, sum(new) - sum(self.cumulative) + skew)
        assert self._post(self.next_epoch, tree, emission)
        self.cumulative, self.tree, self.next_epoch = new, tree, self.next_epoch + 1
        self.posted += emission

    @precondition(lambda self: self.next_epoch > 0)
    @rule(back=st.integers(1, 3))
    def repost_past_epoch_fails(self, back: int) -> None:
        tree = build_tree([(ACCOUNTS[0], 10**9), (ACCOUNTS[1], 1)])
        assert not self._post(max(0, self.next_epoch - back), tree, 0)

    @precondition(lambda self: self.tree is not None)
    @rule(who=st.integers(0, 3))
    def claim(self, who: int) -> None:
        assert self.tree is not None
        account, amount = ACCOUNTS[who], self.cumulative[who] + 1
        due = amount - self.claimed[who]
        expected = due > 0 and sum(self.claimed) + due <= self.posted
        try:
            self.distributor.claim(account, amount, self.tree.proof(account, amount))
            ok = True
        except boa.BoaError:
            ok = False
        assert ok == expected
        if ok:
            self.claimed[who] = amount

    @precondition(lambda self: self.tree is not None)
    @rule(who=st.integers(0, 3), extra=st.integers(1, 10**6))
    def claim_more_than_the_leaf_fails(self, who: int, extra: int) -> None:
        assert self.tree is not None
        account, amount = ACCOUNTS[who], self.cumulative[who] + 1
        with pytest.raises(boa.BoaError):
            self.distributor.claim(account, amount + extra, self.tree.proof(account, amount))

    @invariant()
    def agrees_with_model(self) -> None:
        assert self.distributor.total_posted() == self.posted
        assert self.distributor.total_claimed() == sum(self.claimed) <= self.posted
        assert self.token.totalSupply() == sum(self.claimed)
        assert [self.distributor.claimed(a) for a in ACCOUNTS] == self.claimed

    def teardown(self) -> None:
        self._anchor.close()


DistributorMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
TestDistributorMachine = DistributorMachine.TestCase
