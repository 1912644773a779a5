"""Contract rules, one passing and one `test_invalid_*` case each (titanoboa; issue 3 "Contracts")."""

from __future__ import annotations

from typing import Any

import boa
import pytest

from opendepin.chain.schedule import EmissionCap
from opendepin.chain.signing import compute_epoch_digest, compute_onboard_digest, sign_digest, sign_epoch
from tests.chain.conftest import CAP, DAY, DC_PRICE, HOUR, MAKER_KEY, MAX_SUPPLY, ORACLE_KEYS, UNIT
from tests.chain.helpers import addr_of, build_tree, key_of

pytestmark = pytest.mark.usefixtures("isolate")

H3_CELL = 0x8C1F1D48945D9FF  # a resolution-12 H3 cell
ZERO = b"\x00" * 32
MANIFEST = b"\x33" * 32


ROOT = b"\x01" * 32


def chain_id() -> int:
    return int(boa.env.evm.patch.chain_id)


def signatures(distributor: Any, epoch: int, root: bytes, total: int, keys: list[str]) -> list[bytes]:
    return sign_epoch(keys, chain_id(), distributor.address, epoch, root, MANIFEST, total)


def post(distributor: Any, epoch: int, root: bytes, total: int, keys: list[str] | None = None) -> None:
    """Post `epoch` whose root pays a running `total`."""
    sigs = signatures(distributor, epoch, root, total, keys or ORACLE_KEYS[:1])
    distributor.post_epoch(epoch, root, MANIFEST, total, sigs)


# ---- Token --------------------------------------------------------------------------------------------


def test_genesis_allocation(system: dict[str, Any], admin: str) -> None:
    assert system["token"].balanceOf(admin) == 10_000 * UNIT
    assert system["token"].max_supply() == MAX_SUPPLY


def test_invalid_mint_by_non_distributor(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin), boa.reverts("token: caller is not the distributor"):
        system["token"].mint(admin, 1)


def test_invalid_mint_above_max_supply(deployers: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin):
        token = deployers["Token"].deploy("T", "T", 18, 100, admin, 0)
        token.set_distributor(admin)
        token.mint(admin, 100)
        with boa.reverts("token: max supply exceeded"):
            token.mint(admin, 1)


def test_invalid_set_distributor_twice(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin), boa.reverts("token: distributor already set"):
        system["token"].set_distributor(admin)


def test_invalid_token_without_public_mint_backdoors(system: dict[str, Any]) -> None:
    names = {item["name"] for item in system["token"].abi if item.get("type") == "function"}
    assert "set_minter" not in names and "mint" in names


# ---- PriceOracle --------------------------------------------------------------------------------------


def test_set_price_within_bound(system: dict[str, Any], admin: str) -> None:
    oracle = system["oracle"]
    boa.env.time_travel(seconds=HOUR)
    with boa.env.prank(admin):
        oracle.set_price(2 * UNIT * 12 // 10, boa.env.evm.patch.timestamp)  # +20 % after an hour = the bound
    assert oracle.fresh_price() == 2 * UNIT * 12 // 10


def test_price_bound_grows_with_time(system: dict[str, Any], admin: str) -> None:
    oracle = system["oracle"]
    boa.env.time_travel(seconds=HOUR // 4)
    with boa.env.prank(admin):
        oracle.set_price(2 * UNIT * 105 // 100, boa.env.evm.patch.timestamp)  # +5 % after 15 minutes
        with boa.reverts("oracle: price move beyond bound"):
            oracle.set_price(2 * UNIT * 105 // 100 + 1, boa.env.evm.patch.timestamp)


def test_invalid_price_move_beyond_bound(system: dict[str, Any], admin: str) -> None:
    boa.env.time_travel(seconds=HOUR)
    with boa.env.prank(admin), boa.reverts("oracle: price move beyond bound"):
        system["oracle"].set_price(2 * UNIT * 12 // 10 + 1, boa.env.evm.patch.timestamp)


def test_invalid_price_walk_in_one_block(system: dict[str, Any], admin: str) -> None:
    """Regression: 25 updates with one observation time used to move the price ×95 in one block."""
    oracle = system["oracle"]
    boa.env.time_travel(seconds=HOUR)
    now = boa.env.evm.patch.timestamp
    price = oracle.price()
    with boa.env.prank(admin):
        price = price * 12 // 10
        oracle.set_price(price, now)  # the hour's allowance, once
        for _ in range(24):
            with boa.reverts("oracle: price move beyond bound"):
                oracle.set_price(price * 12 // 10, now)
        oracle.set_price(price, now)  # no move stays allowed
    assert oracle.price() == 2 * UNIT * 12 // 10


def test_invalid_price_walk_with_backdated_observations(system: dict[str, Any], admin: str) -> None:
    """Observation times chosen by the feeder do not make room in one block: block time counts too."""
    oracle = system["oracle"]
    boa.env.time_travel(seconds=HOUR)
    now = boa.env.evm.patch.timestamp
    with boa.env.prank(admin):
        oracle.set_price(2 * UNIT * 11 // 10, now - HOUR // 2)  # +10 %, observed half an hour ago
        with boa.reverts("oracle: price move beyond bound"):
            oracle.set_price(2 * UNIT * 12 // 10, now)  # same block: nothing more


def test_invalid_stale_price_posting(system: dict[str, Any], admin: str) -> None:
    boa.env.time_travel(seconds=7_200)
    with boa.env.prank(admin), boa.reverts("oracle: stale price"):
        system["oracle"].set_price(2 * UNIT, boa.env.evm.patch.timestamp - 3_601)


def test_invalid_price_from_the_future(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin), boa.reverts("oracle: price from the future"):
        system["oracle"].set_price(2 * UNIT, boa.env.evm.patch.timestamp + 1)


def test_invalid_price_by_non_feeder(system: dict[str, Any]) -> None:
    with boa.env.prank(addr_of(key_of(1))), boa.reverts("oracle: caller is not a feeder"):
        system["oracle"].set_price(2 * UNIT, boa.env.evm.patch.timestamp)


def test_invalid_fresh_price_when_stale(system: dict[str, Any]) -> None:
    boa.env.time_travel(seconds=3_601)
    assert system["oracle"].is_stale()
    with boa.reverts("oracle: price is stale"):
        system["oracle"].fresh_price()


# ---- DataCredits --------------------------------------------------------------------------------------


def test_mint_credits_burns_rounded_up(system: dict[str, Any], admin: str) -> None:
    token, credits = system["token"], system["credits"]
    # 3 credits = $0.00003 at $2/token = 0.000015 token = 15e12 units exactly; 1 credit = 5e12 units.
    amount = 7
    expected = -(-amount * DC_PRICE * UNIT // (2 * UNIT))
    before = token.totalSupply()
    with boa.env.prank(admin):
        token.approve(credits.address, expected)
        burned = credits.mint_credits(admin, amount, expected)
    assert burned == expected and token.totalSupply() == before - expected
    assert credits.balanceOf(admin) == amount


def test_mint_credits_rounds_in_protocols_favour(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin):
        system["oracle"].reset_price(3 * UNIT)  # 1 credit = 1e31/3e18 units: not an integer
        assert system["credits"].quote_tokens(1) == 10**13 // 3 + 1


def test_invalid_mint_credits_when_price_stale(system: dict[str, Any], admin: str) -> None:
    boa.env.time_travel(seconds=3_601)
    with boa.env.prank(admin), boa.reverts("oracle: price is stale"):
        system["credits"].mint_credits(admin, 1, 10**30)


def test_invalid_mint_credits_above_slippage(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin), boa.reverts("credits: burn above max_tokens"):
        system["credits"].mint_credits(admin, 1, 1)


def test_invalid_credits_are_not_transferable(system: dict[str, Any]) -> None:
    names = {item["name"] for item in system["credits"].abi if item.get("type") == "function"}
    assert not names & {"transfer", "transferFrom", "approve"}


def test_invalid_spend_by_non_router(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin), boa.reverts("access_control: account is missing role"):
        system["credits"].spend(admin, 1, ZERO)


def test_invalid_mint_credits_when_paused(system: dict[str, Any], admin: str) -> None:
    with boa.env.prank(admin):
        system["credits"].pause()
        with boa.reverts("pausable: contract is paused"):
            system["credits"].mint_credits(admin, 1, 10**30)


# ---- DeviceRegistry -----------------------------------------------------------------------------------


def onboard(
    system: dict[str, Any], admin: str, device_key: bytes, owner: str, maker_key: str = MAKER_KEY
) -> int:
    registry, credits, token = system["registry"], system["credits"], system["token"]
    with boa.env.prank(admin):
        token.approve(credits.address, 10**30)
        credits.mint_credits(admin, 100, 10**30)
        digest = compute_onboard_digest(chain_id(), registry.address, device_key, owner, H3_CELL)
        return int(registry.register_device(device_key, owner, H3_CELL, sign_digest(maker_key, digest)))


def test_register_device_charges_fee_and_mints(system: dict[str, Any], admin: str) -> None:
    owner = addr_of(key_of(7))
    device = b"\x42" * 32
    token_id = onboard(system, admin, device, owner)
    registry = system["registry"]
    assert token_id == int.from_bytes(device, "big")
    assert registry.ownerOf(token_id) == owner
    assert registry.location(token_id) == H3_CELL
    assert registry.maker_of(token_id) == addr_of(MAKER_KEY)
    assert system["credits"].balanceOf(admin) == 0  # 100 credits bought, 100 spent


def test_digest_matches_contract(system: dict[str, Any]) -> None:
    registry, owner, device = system["registry"], addr_of(key_of(7)), b"\x42" * 32
    assert registry.onboard_digest(device, owner, H3_CELL) == compute_onboard_digest(
        chain_id(), registry.address, device, owner, H3_CELL
    )


def test_invalid_register_signed_by_unknown_maker(system: dict[str, Any], admin: str) -> None:
    with boa.reverts("registry: signer is not an authorised maker"):
        onboard(system, admin, b"\x42" * 32, addr_of(key_of(7)), maker_key=key_of(999))


def test_invalid_register_for_another_owner(system: dict[str, Any], admin: str) -> None:
    registry, device = system["registry"], b"\x42" * 32
    digest = compute_onboard_digest(chain_id(), registry.address, device, addr_of(key_of(7)), H3_CELL)
    with boa.env.prank(admin), boa.reverts("registry: signer is not an authorised maker"):
        registry.register_device(device, addr_of(key_of(8)), H3_CELL, sign_digest(MAKER_KEY, digest))


def test_invalid_front_run_with_another_cell(system: dict[str, Any], admin: str) -> None:
    """Regression: the maker's signature did not cover the location, so a front-runner could resubmit a
    pending registration with its own H3 cell."""
    registry, credits, token = system["registry"], system["credits"], system["token"]
    device, owner = b"\x42" * 32, addr_of(key_of(7))
    signature = sign_digest(
        MAKER_KEY, compute_onboard_digest(chain_id(), registry.address, device, owner, H3_CELL)
    )
    with boa.env.prank(admin):
        token.approve(credits.address, 10**30)
        credits.mint_credits(admin, 100, 10**30)
        with boa.reverts("registry: signer is not an authorised maker"):
            registry.register_device(device, owner, 0x8C1F1D48945DBFF, signature)  # the attacker's cell
        registry.register_device(device, owner, H3_CELL, signature)
    assert registry.location(int.from_bytes(device, "big")) == H3_CELL


def test_invalid_register_twice(system: dict[str, Any], admin: str) -> None:
    onboard(system, admin, b"\x42" * 32, addr_of(key_of(7)))
    with boa.reverts("erc721: token already minted"):
        onboard(system, admin, b"\x42" * 32, addr_of(key_of(7)))


def test_invalid_register_without_credits(system: dict[str, Any], admin: str) -> None:
    registry, device, owner = system["registry"], b"\x42" * 32, addr_of(key_of(7))
    digest = compute_onboard_digest(chain_id(), registry.address, device, owner, H3_CELL)
    with boa.env.prank(admin), boa.reverts("credits: insufficient balance"):
        registry.register_device(device, owner, H3_CELL, sign_digest(MAKER_KEY, digest))


def test_owner_asserts_location_and_transfers(system: dict[str, Any], admin: str) -> None:
    owner, other = addr_of(key_of(7)), addr_of(key_of(8))
    token_id = onboard(system, admin, b"\x42" * 32, owner)
    registry = system["registry"]
    new_cell = 0x8C1F1D48945DBFF
    with boa.env.prank(owner):
        registry.assert_location(token_id, new_cell)
        registry.transferFrom(owner, other, token_id)
    assert registry.location(token_id) == new_cell and registry.ownerOf(token_id) == other


def test_invalid_location_by_stranger(system: dict[str, Any], admin: str) -> None:
    token_id = onboard(system, admin, b"\x42" * 32, addr_of(key_of(7)))
    with boa.env.prank(addr_of(key_of(8))), boa.reverts("registry: caller is not owner nor approved"):
        system["registry"].assert_location(token_id, H3_CELL)


def test_invalid_location_not_h3(system: dict[str, Any], admin: str) -> None:
    owner = addr_of(key_of(7))
    token_id = onboard(system, admin, b"\x42" * 32, owner)
    with boa.env.prank(owner), boa.reverts("registry: not an H3 cell id"):
        system["registry"].assert_location(token_id, 12345)


# ---- RewardsDistributor -------------------------------------------------------------------------------


def test_post_and_claim_cumulative(system: dict[str, Any]) -> None:
    distributor, token = system["distributor"], system["token"]
    alice, bob = addr_of(key_of(1)), addr_of(key_of(2))
    tree = build_tree([(alice, 300), (bob, 200)])
    post(distributor, 0, tree.root, 500)
    assert distributor.claim(alice, 300, tree.proof(alice, 300)) == 300
    tree2 = build_tree([(alice, 700), (bob, 200)])
    post(distributor, 1, tree2.root, 900)
    assert distributor.claim(alice, 700, tree2.proof(alice, 700)) == 400
    assert token.balanceOf(alice) == 700 and distributor.claimed(alice) == 700
    assert distributor.total_claimed() == 700 and distributor.total_posted() == 900
    assert distributor.latest_epoch() == 1


def test_epoch_digest_matches_contract(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    expected = compute_epoch_digest(chain_id(), distributor.address, 5, ROOT, MANIFEST, 9)
    assert distributor.epoch_digest(5, b"\x01" * 32, MANIFEST, 9) == expected


def test_invalid_double_claim(system: dict[str, Any]) -> None:
    distributor, alice = system["distributor"], addr_of(key_of(1))
    tree = build_tree([(alice, 300), (addr_of(key_of(2)), 200)])
    post(distributor, 0, tree.root, 500)
    distributor.claim(alice, 300, tree.proof(alice, 300))
    with boa.reverts("distributor: nothing to claim"):
        distributor.claim(alice, 300, tree.proof(alice, 300))


def test_invalid_claim_wrong_proof(system: dict[str, Any]) -> None:
    distributor, alice, bob = system["distributor"], addr_of(key_of(1)), addr_of(key_of(2))
    tree = build_tree([(alice, 300), (bob, 200), (addr_of(key_of(3)), 1)])
    post(distributor, 0, tree.root, 501)
    with boa.reverts("distributor: invalid proof"):
        distributor.claim(alice, 300, tree.proof(bob, 200))


def test_invalid_repost_of_past_epoch(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    for epoch in range(4):
        post(distributor, epoch, b"\x01" * 32, 10)
    with boa.reverts("distributor: not the next epoch"):
        post(distributor, 3, b"\x02" * 32, 10)
    with boa.reverts("distributor: not the next epoch"):
        post(distributor, 2, b"\x02" * 32, 10)
    assert distributor.epoch_root(3) == b"\x01" * 32


def test_invalid_post_skipping_an_epoch(system: dict[str, Any]) -> None:
    """Regression: epoch 2 posted before epoch 1 skipped it for good (and took its allowance)."""
    distributor = system["distributor"]
    post(distributor, 0, ROOT, 10)
    two = signatures(distributor, 2, b"\x02" * 32, 20, ORACLE_KEYS[:1])
    with boa.reverts("distributor: not the next epoch"):
        distributor.post_epoch(2, b"\x02" * 32, MANIFEST, 20, two)
    post(distributor, 1, b"\x03" * 32, 15)
    distributor.post_epoch(2, b"\x02" * 32, MANIFEST, 20, two)  # in order, the same signatures hold
    assert [distributor.epoch_root(e) for e in range(3)] == [ROOT, b"\x03" * 32, b"\x02" * 32]


def test_invalid_signatures_at_another_running_total(system: dict[str, Any]) -> None:
    """A posting's signatures commit to the running total: they cannot be reused on another history."""
    distributor = system["distributor"]
    post(distributor, 0, ROOT, 10)
    signed_for_12 = signatures(distributor, 1, b"\x02" * 32, 12, ORACLE_KEYS[:1])
    with boa.reverts("distributor: signer is not an oracle"):
        distributor.post_epoch(1, b"\x02" * 32, MANIFEST, 15, signed_for_12)


def test_invalid_total_below_posted_total(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    post(distributor, 0, ROOT, 10)
    with boa.reverts("distributor: total below posted total"):
        post(distributor, 1, ROOT, 9)


def test_empty_epochs_post_the_empty_root(system: dict[str, Any]) -> None:
    """An epoch that paid nobody (no leaf yet) is posted too, so later epochs are never stuck."""
    distributor = system["distributor"]
    post(distributor, 0, ZERO, 0)
    assert distributor.next_epoch() == 1 and distributor.latest_epoch() == 0
    with boa.reverts("distributor: no root to claim against"):
        distributor.claim(addr_of(key_of(1)), 1, [])
    with boa.reverts("distributor: empty root with a total"):
        post(distributor, 1, ZERO, 1)
    post(distributor, 1, ROOT, 1)


def test_invalid_emission_above_schedule(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    with boa.reverts("distributor: total above schedule"):
        post(distributor, 0, b"\x01" * 32, CAP.initial_epoch_cap + 1)


def test_unused_allowance_carries_over(system: dict[str, Any]) -> None:
    """The bound is cumulative: the running total may reach Σ cap(e) over the posted epochs, no more."""
    distributor = system["distributor"]
    post(distributor, 0, ROOT, 0)
    post(distributor, 1, ROOT, 2 * CAP.initial_epoch_cap)
    with boa.reverts("distributor: total above schedule"):
        post(distributor, 2, ROOT, 3 * CAP.initial_epoch_cap + 1)
    post(distributor, 2, ROOT, 3 * CAP.initial_epoch_cap)
    assert distributor.schedule_allowance() == CAP.allowance_scaled(2)


def test_epoch_cap_equals_python_mirror(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    for epoch in [0, 9, 10, 25, 99, 10_000, 2**40]:
        assert distributor.epoch_cap_scaled(epoch) == CAP.epoch_cap_scaled(epoch)
        assert distributor.epoch_cap(epoch) == CAP.epoch_cap(epoch)
    assert CAP.epoch_cap(10) == CAP.initial_epoch_cap // 2


@pytest.mark.parametrize("epoch", [1, 512, 513, 3_650, 36_500])
def test_epoch_cap_is_exact_for_long_schedules(deployers: dict[str, Any], admin: str, epoch: int) -> None:
    """Regression: the cap stopped decaying after 512 periods (98,489 tokens at epoch 3,650 of a ×0.999
    daily schedule whose exact cap is 4,264). Now it is the exact value rounded down, at any epoch."""
    daily = EmissionCap(
        initial_epoch_cap=164_383_561_643_835_616_438_357, decay_bps=9_990, decay_period_epochs=1
    )
    with boa.env.prank(admin):
        distributor = deployers["RewardsDistributor"].deploy(
            admin, [addr_of(ORACLE_KEYS[0])], 1, daily.initial_epoch_cap, 9_990, 1, 0, 0, DAY
        )
    scaled = distributor.epoch_cap_scaled(epoch)
    exact = daily.exact_epoch_cap(epoch) * 10**18
    assert scaled == daily.epoch_cap_scaled(epoch)
    assert exact - daily.cap_error_bound(epoch) <= scaled <= exact  # never above the exact schedule
    assert distributor.epoch_cap(epoch) == int(daily.exact_epoch_cap(epoch))
    if epoch == 3_650:
        assert distributor.epoch_cap(epoch) // UNIT == 4_264


def test_invalid_post_signed_by_non_oracle(system: dict[str, Any]) -> None:
    with boa.reverts("distributor: signer is not an oracle"):
        post(system["distributor"], 0, b"\x01" * 32, 10, keys=[key_of(999)])


def test_invalid_post_with_a_different_total_than_signed(system: dict[str, Any]) -> None:
    distributor = system["distributor"]
    sigs = signatures(distributor, 0, ROOT, 10, ORACLE_KEYS[:1])
    with boa.reverts("distributor: signer is not an oracle"):
        distributor.post_epoch(0, b"\x01" * 32, MANIFEST, 11, sigs)


@pytest.fixture
def two_of_three(deployers: dict[str, Any], system: dict[str, Any], admin: str) -> Any:
    oracles = [addr_of(k) for k in ORACLE_KEYS]
    with boa.env.prank(admin):
        return deployers["RewardsDistributor"].deploy(
            system["token"].address,
            oracles,
            2,
            CAP.initial_epoch_cap,
            CAP.decay_bps,
            CAP.decay_period_epochs,
            0,
            0,
            DAY,
        )


def test_two_of_three_oracles_post(two_of_three: Any) -> None:
    post(two_of_three, 0, b"\x01" * 32, 10, keys=ORACLE_KEYS[1:])
    assert two_of_three.latest_root() == b"\x01" * 32


def test_invalid_single_oracle_cannot_post_alone(two_of_three: Any) -> None:
    with boa.reverts("distributor: not enough oracle signatures"):
        post(two_of_three, 0, b"\x01" * 32, 10, keys=ORACLE_KEYS[:1])


def test_invalid_same_oracle_twice(two_of_three: Any) -> None:
    sig = signatures(two_of_three, 0, ROOT, 10, ORACLE_KEYS[:1])
    with boa.reverts("distributor: signers not ascending"):
        two_of_three.post_epoch(0, b"\x01" * 32, MANIFEST, 10, sig + sig)


def test_invalid_post_before_the_epoch_ended(
    deployers: dict[str, Any], system: dict[str, Any], admin: str
) -> None:
    now = boa.env.evm.patch.timestamp
    with boa.env.prank(admin):
        clocked = deployers["RewardsDistributor"].deploy(
            system["token"].address,
            [addr_of(ORACLE_KEYS[0])],
            1,
            CAP.initial_epoch_cap,
            CAP.decay_bps,
            CAP.decay_period_epochs,
            0,
            now - 3 * DAY,
            DAY,
        )
    for epoch in range(3):  # epochs 0-2 have ended (epoch 2 just now)
        post(clocked, epoch, ROOT, 10)
    with boa.reverts("distributor: epoch has not ended"):
        post(clocked, 3, ROOT, 10)  # epoch 3 ends a day from now
    boa.env.time_travel(seconds=DAY)
    post(clocked, 3, ROOT, 10)


def test_invalid_zero_epoch_length(deployers: dict[str, Any], system: dict[str, Any], admin: str) -> None:
    """Regression: without an epoch clock a quorum could post every future epoch (the whole supply) now."""
    with boa.env.prank(admin), boa.reverts("distributor: zero epoch length"):
        deployers["RewardsDistributor"].deploy(
            system["token"].address, [addr_of(ORACLE_KEYS[0])], 1, CAP.initial_epoch_cap, 5_000, 10, 0, 0, 0
        )


def test_invalid_claims_beyond_posted_emission(system: dict[str, Any]) -> None:
    distributor, alice = system["distributor"], addr_of(key_of(1))
    tree = build_tree([(alice, 600), (addr_of(key_of(2)), 1)])
    post(distributor, 0, tree.root, 500)  # the oracles posted less than the tree pays
    with boa.reverts("distributor: claims exceed posted emission"):
        distributor.claim(alice, 600, tree.proof(alice, 600))


def test_pauser_stops_claims(system: dict[str, Any], admin: str) -> None:
    distributor, alice = system["distributor"], addr_of(key_of(1))
    tree = build_tree([(alice, 1), (addr_of(key_of(2)), 1)])
    post(distributor, 0, tree.root, 2)
    with boa.env.prank(admin):
        distributor.pause()
    with boa.reverts("pausable: contract is paused"):
        distributor.claim(alice, 1, tree.proof(alice, 1))
    with boa.env.prank(admin):
        distributor.unpause()
    assert distributor.claim(alice, 1, tree.proof(alice, 1)) == 1


def test_invalid_pause_by_non_pauser(system: dict[str, Any]) -> None:
    for contract in (system["distributor"], system["registry"]):
        with boa.env.prank(addr_of(key_of(5))), boa.reverts("pauser: caller is not a pauser"):
            contract.pause()


def test_invalid_pauser_appointed_by_stranger(system: dict[str, Any]) -> None:
    with boa.env.prank(addr_of(key_of(5))), boa.reverts("ownable: caller is not the owner"):
        system["distributor"].set_pauser(addr_of(key_of(5)), True)


def test_invalid_oracle_set_change_by_stranger(system: dict[str, Any]) -> None:
    with boa.env.prank(addr_of(key_of(5))), boa.reverts("ownable: caller is not the owner"):
        system["distributor"].set_oracles([addr_of(key_of(5))], 1)
