"""A hypothesis state machine over the settlement contracts behind their timelock: any interleaving of
postings (in or out of order, under or over the tree, within or above the schedule), claims, altered
claims, price updates (any size, any observation time, same block or later), pauses, time passing and
timelocked admin changes (executed early or late) keeps the model and the contracts in agreement, and:

- claims never exceed the posted total, and the token minted exactly what was claimed;
- no epoch is skipped: epochs 0 … next − 1 are all posted, with the roots the model posted;
- the posted total never exceeds the schedule allowance Σ cap(e) of the posted epochs (no mint above it);
- every accepted price moved at most max_change_bps per change_period of elapsed time (both clocks), so
  over T seconds the price rose at most by a factor e^(r·T);
- a timelocked admin change takes effect only once its delay has passed.
"""

from __future__ import annotations

import contextlib
import math
from functools import cache
from typing import Any

import boa
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from opendepin.chain.artifacts import contract_path
from opendepin.chain.signing import sign_epoch
from tests.chain.conftest import CAP, DAY, HOUR, ORACLE_KEYS, UNIT
from tests.chain.helpers import Tree, addr_of, build_tree, key_of

ACCOUNTS = [addr_of(key_of(20 + i)) for i in range(4)]
MANIFEST = b"\x66" * 32
DELAY = 2 * DAY
MAX_CHANGE_BPS = 2_000
NEW_ORACLE_KEY = key_of(140)


@cache
def _deployer(name: str) -> Any:
    return boa.load_partial(str(contract_path(name)))


def _reverts(call: Any, *args: Any) -> bool:
    """Run a transaction; True if it reverted (its state changes are then undone)."""
    try:
        call(*args)
    except boa.BoaError:
        return True
    return False


class SettlementMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._anchor = contextlib.ExitStack()
        self._anchor.enter_context(boa.env.anchor())
        self.admin = boa.env.generate_address("machine-admin")
        self.pauser = boa.env.generate_address("machine-pauser")
        self.feeder = boa.env.generate_address("machine-feeder")
        self.stranger = boa.env.generate_address("machine-stranger")
        now = boa.env.evm.patch.timestamp
        with boa.env.prank(self.admin):
            self.timelock = _deployer("Timelock").deploy(DELAY, [self.admin], [self.admin])
            self.token = _deployer("Token").deploy("T", "T", 18, 10**30, self.admin, 0)
            self.oracle = _deployer("PriceOracle").deploy(DAY, MAX_CHANGE_BPS, HOUR, self.feeder)
            self.distributor = _deployer("RewardsDistributor").deploy(
                self.token.address,
                [addr_of(ORACLE_KEYS[0])],
                1,
                CAP.initial_epoch_cap,
                CAP.decay_bps,
                CAP.decay_period_epochs,
                0,
                now - 400 * DAY,
                DAY,
            )
            self.token.set_distributor(self.distributor.address)
            self.distributor.set_pauser(self.pauser, True)
            self.distributor.transfer_ownership(self.timelock.address)
            self.oracle.transfer_ownership(self.timelock.address)
        # the model
        self.oracle_keys = [ORACLE_KEYS[0]]
        self.cumulative = [0] * 4  # the latest posted tree pays cumulative[i] + 1 to ACCOUNTS[i]
        self.tree: Tree | None = None
        self.roots: list[bytes] = []
        self.posted = 0
        self.claimed = [0] * 4
        self.paused = False
        self.prices: list[tuple[int, int]] = []  # (block time accepted, price)
        self.price_observed = 0
        self.pending: list[tuple[int, int]] = []  # (ready_at, salt) of scheduled oracle changes
        self.salt = 0

    # ---- time ---------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(boa.env.evm.patch.timestamp)

    @rule(seconds=st.sampled_from([1, HOUR // 2, DAY, DELAY - 1, DELAY]))
    def time_passes(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    # ---- postings and claims --------------------------------------------------------------------------

    def _signed_post(self, epoch: int, root: bytes, total: int) -> bool:
        chain_id = boa.env.evm.patch.chain_id
        sigs = sign_epoch(self.oracle_keys, chain_id, self.distributor.address, epoch, root, MANIFEST, total)
        return not _reverts(self.distributor.post_epoch, epoch, root, MANIFEST, total, sigs)

    @rule(
        increments=st.lists(st.integers(0, 600).map(lambda tokens: tokens * UNIT), min_size=4, max_size=4),
        skew=st.integers(-(10**6), 10**6),
    )
    def post_next_epoch(self, increments: list[int], skew: int) -> None:
        new = [c + i for c, i in zip(self.cumulative, increments, strict=True)]
        tree = build_tree(list(zip(ACCOUNTS, [v + 1 for v in new], strict=True)))
        total = max(0, sum(new) + 4 + skew)
        epoch = len(self.roots)
        expected = not self.paused and total >= self.posted and total * 10**18 <= CAP.allowance_scaled(epoch)
        assert self._signed_post(epoch, tree.root, total) == expected
        if expected:
            self.cumulative, self.tree, self.posted = new, tree, total
            self.roots.append(tree.root)

    @rule(gap=st.integers(1, 3))
    def post_out_of_order_fails(self, gap: int) -> None:
        epoch = len(self.roots) + gap
        assert not self._signed_post(epoch, b"\x01" * 32, self.posted)
        if self.roots:
            assert not self._signed_post(len(self.roots) - 1, b"\x02" * 32, self.posted)

    @precondition(lambda self: self.tree is not None)
    @rule(who=st.integers(0, 3))
    def claim(self, who: int) -> None:
        assert self.tree is not None
        account, amount = ACCOUNTS[who], self.cumulative[who] + 1
        due = amount - self.claimed[who]
        expected = not self.paused and due > 0 and sum(self.claimed) + due <= self.posted
        ok = not _reverts(self.distributor.claim, account, amount, self.tree.proof(account, amount))
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

    @rule(pause=st.booleans(), by_pauser=st.booleans())
    def pause_or_unpause(self, pause: bool, by_pauser: bool) -> None:
        function = self.distributor.pause if pause else self.distributor.unpause
        with boa.env.prank(self.pauser if by_pauser else self.admin):
            reverted = _reverts(function)
        assert reverted == (not by_pauser or pause == self.paused)
        if not reverted:
            self.paused = pause

    # ---- price ------------------------------------------------------------------------------------------

    @rule(move_bps=st.integers(-3_000, 3_000), observed_back=st.sampled_from([0, 1, 600, HOUR]))
    def set_price(self, move_bps: int, observed_back: int) -> None:
        now = self.now()
        observed = max(self.price_observed, now - observed_back)
        old = self.prices[-1][1] if self.prices else 0
        new = (old or 10**18) * (10_000 + move_bps) // 10_000
        if old:
            elapsed = min(observed - self.price_observed, now - self.prices[-1][0], HOUR)
            expected = abs(new - old) * 10_000 * HOUR <= old * MAX_CHANGE_BPS * elapsed
        else:
            expected = True
        with boa.env.prank(self.feeder):
            assert (not _reverts(self.oracle.set_price, new, observed)) == expected
        if expected:
            self.prices.append((now, new))
            self.price_observed = observed

    # ---- timelocked administration ------------------------------------------------------------------

    def _oracle_change(self) -> bytes:
        return bytes(self.distributor.set_oracles.prepare_calldata([addr_of(NEW_ORACLE_KEY)], 1))

    @rule()
    def schedule_oracle_change(self) -> None:
        self.salt += 1
        with boa.env.prank(self.admin):
            self.timelock.schedule(
                self.distributor.address,
                0,
                self._oracle_change(),
                bytes(32),
                self.salt.to_bytes(32, "big"),
                DELAY,
            )
        self.pending.append((self.now() + DELAY, self.salt))

    @precondition(lambda self: self.pending)
    @rule(index=st.integers(0, 3))
    def execute_oracle_change(self, index: int) -> None:
        ready_at, salt = self.pending[index % len(self.pending)]
        with boa.env.prank(self.admin):
            executed = not _reverts(
                self.timelock.execute,
                self.distributor.address,
                0,
                self._oracle_change(),
                bytes(32),
                salt.to_bytes(32, "big"),
            )
        assert executed == (self.now() >= ready_at)
        if executed:
            self.pending.remove((ready_at, salt))
            self.oracle_keys = [NEW_ORACLE_KEY]

    @rule()
    def owner_powers_need_the_timelock(self) -> None:
        for caller in (self.admin, self.stranger):
            with boa.env.prank(caller):
                assert _reverts(self.distributor.set_oracles, [addr_of(key_of(141))], 1)
                assert _reverts(self.oracle.reset_price, 10**30)

    # ---- invariants ---------------------------------------------------------------------------------

    @invariant()
    def claims_never_exceed_the_posted_total(self) -> None:
        assert self.distributor.total_posted() == self.posted
        assert self.distributor.total_claimed() == sum(self.claimed) <= self.posted
        assert self.token.totalSupply() == sum(self.claimed)
        assert [self.distributor.claimed(a) for a in ACCOUNTS] == self.claimed

    @invariant()
    def no_epoch_is_skipped(self) -> None:
        assert self.distributor.next_epoch() == len(self.roots)
        assert [self.distributor.epoch_root(e) for e in range(len(self.roots))] == self.roots

    @invariant()
    def no_mint_above_the_schedule(self) -> None:
        allowance = CAP.allowance_scaled(len(self.roots) - 1) if self.roots else 0
        assert self.distributor.schedule_allowance() == allowance
        assert self.distributor.total_posted() * 10**18 <= allowance

    @invariant()
    def price_moves_bounded_per_time(self) -> None:
        assert self.oracle.price() == (self.prices[-1][1] if self.prices else 0)
        rate = MAX_CHANGE_BPS / 10_000 / HOUR
        for (t0, p0), (t1, p1) in zip(self.prices, self.prices[1:], strict=False):
            assert abs(p1 - p0) * 10_000 <= p0 * MAX_CHANGE_BPS * min(t1 - t0, HOUR) // HOUR + 10_000
        if self.prices:
            (first_time, first), (last_time, last) = self.prices[0], self.prices[-1]
            assert last <= first * math.exp(rate * (last_time - first_time)) * (1 + 1e-9)

    @invariant()
    def admin_changes_wait_for_the_delay(self) -> None:
        expected = [addr_of(k) for k in self.oracle_keys]
        assert [self.distributor.oracles(i) for i in range(len(expected))] == expected
        assert self.distributor.owner() == self.oracle.owner() == self.timelock.address

    def teardown(self) -> None:
        self._anchor.close()


SettlementMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=25, deadline=None)
TestSettlementMachine = SettlementMachine.TestCase
