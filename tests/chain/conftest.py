"""Fixtures for contract tests: compile once per session, deploy once per module, revert after each test.

Keystores made by the tests use the light KDF (`DEPIN_KEYSTORE_FAST_KDF`, a development switch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boa
import pytest

from opendepin.chain.artifacts import contract_path
from opendepin.chain.schedule import EmissionCap
from tests.chain.helpers import addr_of, key_of

UNIT = 10**18
MAX_SUPPLY = 1_000_000 * UNIT
CAP = EmissionCap(initial_epoch_cap=1_000 * UNIT, decay_bps=5_000, decay_period_epochs=10)
DC_PRICE = 10**13  # $0.00001
DAY = 86_400
HOUR = 3_600
ORACLE_KEYS = [key_of(100 + i) for i in range(3)]
MAKER_KEY = key_of(200)
CONTRACTS = ["Timelock", "Token", "PriceOracle", "DataCredits", "DeviceRegistry", "RewardsDistributor"]


@pytest.fixture(scope="session", autouse=True)
def _fast_kdf() -> Iterator[None]:
    """Keystores written by these tests use scrypt n = 2¹² even under a chosen password."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEPIN_KEYSTORE_FAST_KDF", "1")
        yield


@pytest.fixture(scope="session")
def deployers() -> dict[str, Any]:
    return {name: boa.load_partial(str(contract_path(name))) for name in CONTRACTS}


@pytest.fixture(scope="module")
def admin() -> str:
    address = boa.env.generate_address("admin")
    boa.env.eoa = address
    return address


@pytest.fixture(scope="module")
def system(deployers: dict[str, Any], admin: str) -> dict[str, Any]:
    """The contracts wired as `ChainBackend.deploy` wires them, except that `admin` stays their owner (the
    rules of each contract are tested here; the timelock in front of the owner in test_governance.py);
    1-of-1 oracle, onboarding fee 100 DC, daily epochs from time 0, price ±20 % per hour."""
    with boa.env.prank(admin):
        token = deployers["Token"].deploy("OpenDePIN Token", "ODP", 18, MAX_SUPPLY, admin, 10_000 * UNIT)
        oracle = deployers["PriceOracle"].deploy(HOUR, 2_000, HOUR, admin)
        credits = deployers["DataCredits"].deploy(token.address, oracle.address, DC_PRICE)
        registry = deployers["DeviceRegistry"].deploy(credits.address, 100)
        distributor = deployers["RewardsDistributor"].deploy(
            token.address,
            [addr_of(ORACLE_KEYS[0])],
            1,
            CAP.initial_epoch_cap,
            CAP.decay_bps,
            CAP.decay_period_epochs,
            0,
            0,
            DAY,
        )
        token.set_distributor(distributor.address)
        credits.grantRole(credits.ROUTER_ROLE(), registry.address)
        registry.set_maker(addr_of(MAKER_KEY), True)
        registry.set_pauser(admin, True)
        distributor.set_pauser(admin, True)
        oracle.set_price(2 * UNIT, boa.env.evm.patch.timestamp)  # $2 per token
    return {
        "token": token,
        "oracle": oracle,
        "credits": credits,
        "registry": registry,
        "distributor": distributor,
    }


@pytest.fixture
def isolate() -> Iterator[None]:
    """Revert the global titanoboa env after the test (contract tests share one deployment per module)."""
    with boa.env.anchor():
        yield
