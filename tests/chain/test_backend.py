"""The ChainBackend API end to end; the same tests run on the embedded EVM and on a real anvil node."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from opendepin.chain.anvil import AnvilNode
from opendepin.chain.backend import (
    DEFAULT_TIMELOCK_DELAY_SECONDS,
    ChainBackend,
    ChainError,
    ChainStateError,
    DeployParams,
    TransactionRevertedError,
)
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.rpc import RpcBackend
from opendepin.chain.schedule import EmissionCap
from opendepin.chain.signing import address_of
from tests.chain.helpers import addr_of, build_tree, key_of

UNIT = 10**18
MANIFEST = b"\x44" * 32
H3_CELL = 0x8C1F1D48945D9FF
OWNERS = [key_of(300 + i) for i in range(3)]
HOUR = 3_600


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode.start() as node:
        yield node


@pytest.fixture(params=["embedded", pytest.param("rpc", marks=pytest.mark.integration)])
def chain_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> list[int]:
    """The embedded chain's clock (a test moves it forward with `advance`)."""
    return [int(time.time())]


@pytest.fixture
def make_backend(
    chain_kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: list[int]
) -> Iterator[Callable[[], ChainBackend]]:
    """Opens a backend on a fresh data dir (call again to reopen it, e.g. after a restart)."""
    opened: list[ChainBackend] = []

    def make() -> ChainBackend:
        keys = load_or_create_keys(tmp_path, oracle_count=3, threshold=2)
        backend: ChainBackend
        if chain_kind == "embedded":
            backend = EmbeddedBackend(tmp_path, keys, clock=lambda: clock[0])
        else:
            node: AnvilNode = request.getfixturevalue("anvil")
            node.set_balance(keys.address("operator"), 10**22)
            node.set_balance(keys.address("admin"), 10**22)
            node.set_balance(keys.address("feeder"), 10**22)
            backend = RpcBackend(tmp_path, keys, node.url)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


@pytest.fixture
def advance(chain_kind: str, request: pytest.FixtureRequest, clock: list[int]) -> Callable[[int], None]:
    """Moves the chain's time forward by some seconds (the embedded clock, or anvil's)."""

    def forward(seconds: int) -> None:
        if chain_kind == "embedded":
            clock[0] += seconds
        else:
            node: AnvilNode = request.getfixturevalue("anvil")
            node.request("evm_increaseTime", [seconds])
            node.mine()

    return forward


def params_for(backend: ChainBackend) -> DeployParams:
    return DeployParams(
        token_name="OpenDePIN Token",
        token_symbol="ODP",
        decimals=18,
        max_supply=10**9 * UNIT,
        emission_cap=EmissionCap(1_000 * UNIT, 5_000, 100),
        oracles=backend.keys.oracle_addresses,
        oracle_threshold=backend.keys.threshold,
        onboarding_fee_dc=4_000,
        makers=backend.keys.maker_addresses,
        genesis_amount=1_000 * UNIT,
    )


@pytest.fixture
def backend(make_backend: Callable[[], ChainBackend]) -> ChainBackend:
    chain = make_backend()
    chain.deploy(params_for(chain))
    for key in OWNERS:
        chain.fund(address_of(key), 10**18)
    return chain


def post_tree(chain: ChainBackend, epoch: int, amounts: list[int], total: int | None = None) -> object:
    """Post `epoch` with a tree paying `amounts` to OWNERS (running total: their sum unless given)."""
    tree = build_tree([(addr_of(k), a) for k, a in zip(OWNERS, amounts, strict=True)])
    chain.post_epoch(epoch, tree.root, MANIFEST, sum(amounts) if total is None else total)
    return tree


def test_deploy_records_contracts(backend: ChainBackend) -> None:
    status = backend.status()
    names = {"Timelock", "Token", "PriceOracle", "DataCredits", "DeviceRegistry", "RewardsDistributor"}
    assert set(status.contracts) == names
    assert status.timelock_delay_seconds == DEFAULT_TIMELOCK_DELAY_SECONDS
    assert status.total_supply == 1_000 * UNIT and status.total_posted == 0 and status.latest_epoch is None
    assert not status.price_stale and status.price_usd_wad == UNIT
    with pytest.raises(ChainError, match="already deployed"):
        backend.deploy(params_for(backend))


def test_register_device_pays_fee_in_credits(backend: ChainBackend) -> None:
    purchase = backend.buy_credits("0.05")  # $0.05 = 5,000 credits at $1 per token
    assert purchase.credits == 5_000 and purchase.tokens_burned == 5_000 * 10**13
    device, owner_key = b"\x07" * 32, OWNERS[0]
    owner = address_of(owner_key)
    signature = backend.sign_onboarding(backend.keys.makers[0], device, owner, H3_CELL)
    receipt = backend.register_device(signature, device, owner, H3_CELL)
    assert receipt.events_named("DeviceRegistered")[0].args["fee"] == 4_000
    assert backend.device_owner(device) == owner and backend.device_location(device) == H3_CELL
    assert backend.credits_of(address_of(backend.keys.operator)) == 1_000
    backend.transfer_device(owner_key, device, address_of(OWNERS[1]))
    assert backend.device_owner(device) == address_of(OWNERS[1])


def test_invalid_register_without_enough_credits(backend: ChainBackend) -> None:
    device, owner = b"\x08" * 32, address_of(OWNERS[0])
    signature = backend.sign_onboarding(backend.keys.makers[0], device, owner, H3_CELL)
    with pytest.raises(TransactionRevertedError, match="credits: insufficient balance"):
        backend.register_device(signature, device, owner, H3_CELL)


def test_post_epoch_and_claim(backend: ChainBackend) -> None:
    tree = post_tree(backend, 0, [5 * UNIT, 3 * UNIT, UNIT])
    result = backend.claim(OWNERS[0], 5 * UNIT, tree.proof(addr_of(OWNERS[0]), 5 * UNIT))  # type: ignore[attr-defined]
    assert result.amount == 5 * UNIT and result.gas_used > 21_000 and result.tx_hash.startswith("0x")
    tree = post_tree(backend, 1, [8 * UNIT, 3 * UNIT, UNIT])
    again = backend.claim(OWNERS[0], 8 * UNIT, tree.proof(addr_of(OWNERS[0]), 8 * UNIT))  # type: ignore[attr-defined]
    assert again.amount == 3 * UNIT
    assert backend.claimed(addr_of(OWNERS[0])) == 8 * UNIT
    assert backend.balance_of(addr_of(OWNERS[0])) == 8 * UNIT
    assert backend.total_supply() == 1_008 * UNIT
    assert backend.epoch_root(1) == tree.root  # type: ignore[attr-defined]


def test_invalid_double_claim_names_the_reason(backend: ChainBackend) -> None:
    tree = post_tree(backend, 0, [UNIT, UNIT, UNIT])
    proof = tree.proof(addr_of(OWNERS[1]), UNIT)  # type: ignore[attr-defined]
    backend.claim(OWNERS[1], UNIT, proof)
    with pytest.raises(TransactionRevertedError, match="distributor: nothing to claim") as caught:
        backend.claim(OWNERS[1], UNIT, proof)
    assert caught.value.reason == "distributor: nothing to claim"


def test_invalid_claim_with_altered_amount(backend: ChainBackend) -> None:
    tree = post_tree(backend, 0, [UNIT, UNIT, UNIT])
    with pytest.raises(TransactionRevertedError, match="distributor: invalid proof"):
        backend.claim(OWNERS[1], 2 * UNIT, tree.proof(addr_of(OWNERS[1]), UNIT))  # type: ignore[attr-defined]


def test_invalid_repost_and_oracle_threshold(backend: ChainBackend) -> None:
    post_tree(backend, 0, [UNIT, UNIT, UNIT])
    with pytest.raises(TransactionRevertedError, match="distributor: not the next epoch"):
        post_tree(backend, 0, [2 * UNIT, UNIT, UNIT])
    one = backend.sign_epoch(1, b"\x01" * 32, MANIFEST, 3 * UNIT, oracle_keys=backend.keys.oracles[:1])
    with pytest.raises(TransactionRevertedError, match="not enough oracle signatures"):
        backend.post_epoch(1, b"\x01" * 32, MANIFEST, 3 * UNIT, one)


def test_price_and_credit_quote(backend: ChainBackend, advance: Callable[[int], None]) -> None:
    with pytest.raises(TransactionRevertedError, match="oracle: price move beyond bound"):
        backend.set_price("1.1")  # right after deployment: no time has passed for a move
    advance(HOUR)
    backend.set_price("1.1")
    credits, tokens = backend.quote_credits("1")
    assert credits == 100_000
    assert tokens == -(-100_000 * 10**13 * UNIT // (11 * UNIT // 10))  # rounded up
    advance(HOUR)
    with pytest.raises(TransactionRevertedError, match="oracle: price move beyond bound"):
        backend.set_price("5")


def test_invalid_buy_credits_without_tokens(backend: ChainBackend) -> None:
    with pytest.raises(ChainError, match="claim rewards or receive tokens first"):
        backend.buy_credits("1", buyer_key=OWNERS[2])


def test_status_after_settlement(backend: ChainBackend) -> None:
    post_tree(backend, 0, [0, 0, 0])
    post_tree(backend, 1, [UNIT, UNIT, UNIT])
    tree = post_tree(backend, 2, [UNIT, 2 * UNIT, 3 * UNIT])
    backend.claim(OWNERS[2], 3 * UNIT, tree.proof(addr_of(OWNERS[2]), 3 * UNIT))  # type: ignore[attr-defined]
    status = backend.status()
    assert (status.latest_epoch, status.next_epoch) == (2, 3)
    assert status.total_posted == 6 * UNIT and status.total_claimed == 3 * UNIT
    assert status.latest_root == "0x" + tree.root.hex()  # type: ignore[attr-defined]


def test_settle_epoch_is_idempotent(backend: ChainBackend) -> None:
    tree = build_tree([(addr_of(k), UNIT) for k in OWNERS])
    first = backend.settle_epoch(0, tree.root, MANIFEST, 3 * UNIT)
    again = backend.settle_epoch(0, tree.root, MANIFEST, 3 * UNIT)  # e.g. re-run after a crash
    assert (first.status, again.status, again.receipt) == ("posted", "already_posted", None)
    assert backend.status().total_posted == 3 * UNIT


def test_invalid_settle_epoch_with_a_different_root(backend: ChainBackend) -> None:
    backend.settle_epoch(0, b"\x01" * 32, MANIFEST, UNIT)
    with pytest.raises(ChainStateError, match="epoch 0 is settled on chain"):
        backend.settle_epoch(0, b"\x02" * 32, MANIFEST, UNIT)


def test_invalid_settle_out_of_order(backend: ChainBackend) -> None:
    """Regression: settling epoch 1 first used to skip epoch 0 for good; now epochs settle in order."""
    with pytest.raises(ChainStateError, match=r"epoch 1 cannot be settled .* before epoch 0"):
        backend.settle_epoch(1, b"\x01" * 32, MANIFEST, UNIT)
    assert backend.next_epoch() == 0
    backend.settle_epoch(0, b"\x01" * 32, MANIFEST, UNIT)
    assert backend.settle_epoch(1, b"\x02" * 32, MANIFEST, 2 * UNIT).status == "posted"


def test_settle_posts_an_epoch_that_paid_nobody(backend: ChainBackend) -> None:
    """An epoch without leaves posts the empty root with total 0, so the next epoch can follow."""
    first = backend.settle_epoch(0, None, MANIFEST, 0)
    assert first.status == "posted" and backend.epoch_root(0) is None
    assert backend.settle_epoch(0, None, MANIFEST, 0).status == "already_posted"
    assert backend.settle_epoch(1, b"\x01" * 32, MANIFEST, UNIT).status == "posted"
    assert backend.status().latest_epoch == 1


def test_wallet_bytes_keys_sign_and_claim(backend: ChainBackend) -> None:
    """Keys as raw bytes (identity.wallets.Wallet.private_key) work wherever a key is taken."""
    from opendepin.identity.wallets import Wallet

    owner = Wallet(bytes.fromhex(OWNERS[0][2:]))
    tree = post_tree(backend, 0, [2 * UNIT, UNIT, UNIT])
    result = backend.claim(owner.private_key, 2 * UNIT, tree.proof(owner.address, 2 * UNIT))  # type: ignore[attr-defined]
    assert result.account == owner.address and result.amount == 2 * UNIT


def test_onboard_and_claim_owed_are_safe_to_rerun(make_backend: Callable[[], ChainBackend]) -> None:
    chain = make_backend()
    chain.deploy(replace(params_for(chain), onboarding_fee_dc=0))
    device, owner_key = b"\x0a" * 32, OWNERS[0]
    owner = address_of(owner_key)
    chain.fund(owner, 10**18)
    assert not chain.is_registered(device)
    assert chain.onboard(chain.keys.makers[0], device, owner, H3_CELL) is not None
    assert chain.onboard(chain.keys.makers[0], device, owner, H3_CELL) is None  # e.g. after a restart
    assert chain.is_registered(device)
    tree = post_tree(chain, 0, [UNIT, UNIT, UNIT])
    proof = tree.proof(owner, UNIT)  # type: ignore[attr-defined]
    first = chain.claim_owed(owner_key, UNIT, proof)
    assert first is not None and first.amount == UNIT
    assert chain.claim_owed(owner_key, UNIT, proof) is None


def test_latest_block_hash_moves_with_the_chain(backend: ChainBackend) -> None:
    before = backend.latest_block_hash()
    assert before.startswith("0x") and len(before) == 66
    backend.set_price("1")
    after = backend.latest_block_hash()
    assert after != before and len(after) == 66


# ---- roles and the timelock ------------------------------------------------------------------------------


def test_deployment_leaves_the_operator_no_power(backend: ChainBackend) -> None:
    """Regression: deployment left one key owner, admin, pauser and feeder of every contract."""
    roles, keys = backend.roles(), backend.keys
    operator, timelock = keys.address("operator"), backend.contracts["Timelock"]
    assert roles["owners"] == {
        "Token": "0x" + "0" * 40,  # renounced: only the distributor mints, forever
        "PriceOracle": timelock,
        "DeviceRegistry": timelock,
        "RewardsDistributor": timelock,
    }
    assert roles["credits_admins"] == [timelock]
    assert roles["timelock_proposers"] == roles["timelock_executors"] == [keys.address("admin")]
    assert all(holders == [keys.address("pauser")] for holders in roles["pausers"].values())
    assert roles["feeders"] == [keys.address("feeder")]
    assert sorted(roles["oracles"]) == sorted(keys.oracle_addresses) and roles["oracle_threshold"] == 2
    everything = [roles["credits_admins"], *roles["pausers"].values(), roles["feeders"]]
    assert operator not in roles["owners"].values() and all(operator not in held for held in everything)


def test_invalid_admin_change_before_the_delay(backend: ChainBackend, advance: Callable[[int], None]) -> None:
    """Regression: `set_oracles` was owner-only and immediate; now it waits for the timelock's delay."""
    newcomer = addr_of(key_of(350))
    with pytest.raises(TransactionRevertedError, match="ownable: caller is not the owner"):
        backend.send(backend.keys.admin, "RewardsDistributor", "set_oracles", [newcomer], 1)
    operation = backend.schedule_admin_call("RewardsDistributor", "set_oracles", [newcomer], 1)
    with pytest.raises(TransactionRevertedError, match="operation is not ready"):
        backend.execute_admin_call(operation)
    advance(DEFAULT_TIMELOCK_DELAY_SECONDS - 60)
    with pytest.raises(TransactionRevertedError, match="operation is not ready"):
        backend.execute_admin_call(operation)
    assert newcomer not in backend.roles()["oracles"]
    advance(60)
    backend.execute_admin_call(operation)
    assert backend.roles()["oracles"] == [newcomer]


def test_invalid_roles_sharing_one_key(make_backend: Callable[[], ChainBackend]) -> None:
    chain = make_backend()
    operator = chain.keys.address("operator")
    for role in ("admin", "pauser", "feeder"):
        with pytest.raises(ValueError, match="give every role its own key"):
            chain.deploy(replace(params_for(chain), **{role: operator}))
    with pytest.raises(ValueError, match="give every role its own key"):
        chain.deploy(replace(params_for(chain), oracles=(chain.keys.address("admin"),), oracle_threshold=1))
