"""The simulated users of `depin up`: they buy tokens from owners, burn them for data credits at the oracle
price, and pay honest devices for service with usage receipts they sign, more each epoch.

Rules (docs/architecture.md, "Users pay, providers earn"):
- demand grows linearly: in epoch k the users aim to burn `growth` × k times the epoch's emission (so the
  usage ratio r the reward policy reads goes 0, growth, 2·growth, …);
- tokens come from the treasury (a genesis allocation `depin up` mints to the operator: the first year's
  emission), then from the owners who claimed; the users pay them off chain;
- each user burns all its tokens for credits at the start of the epoch, then spends them evenly over the
  epoch's hours on sessions with honest, onboarded devices of the sectors that meter usage (a seeded draw
  per hour), one receipt per session, `ref` unique per user and session; the sector's simulation says
  what a session of so many credits delivers (the wireless sector: 24 bytes per credit); the device
  countersigns the receipt when its sector requires it (storage).

`TreasuryAccounts` lends the same users to the sectors' simulations (fleet/services.py): a sector whose
devices trade with users (compute: tenants' orders and escrow, providers' bonds) signs as a user or as the
owner of one of its devices, and has them buy the credits it spends from the treasury, at the oracle price.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from opendepin.chain.backend import ChainBackend, ChainError, address_of
from opendepin.chain.keys import PrivateKey
from opendepin.config import NetworkConfig
from opendepin.fleet.simulator import SECP256K1_ORDER, Fleet, compute_fleet_key
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, countersign, sign_receipt
from opendepin.rewards.emissions import compute_epoch_emission
from opendepin.rewards.epoch import window_for
from opendepin.sectors.registry import load_sectors

HOUR = 3_600
FUNDING_WEI = 10**18
SESSIONS_PER_USER_HOUR = 4
WAD = 10**18


def user_wallets(fleet: Fleet, count: int) -> list[Wallet]:
    """The fleet's `count` users (keys derived from the fleet secret, like every fleet key)."""
    return [Wallet(compute_fleet_key(fleet.fleet_secret, f"user:{i}", SECP256K1_ORDER)) for i in range(count)]


@dataclass
class TreasuryAccounts:
    """The fleet's users, and data credits bought with tokens the treasury (the operator) sells."""

    backend: ChainBackend
    fleet: Fleet
    count: int = 3

    def users(self) -> list[Wallet]:
        return user_wallets(self.fleet, self.count)

    def buy_credits(self, wallet: Wallet, credits: int) -> int:
        """The treasury sells `wallet` the tokens `credits` data credits cost at the oracle price (the user
        pays off chain), and `wallet` burns them: the credits bought, or 0 (no price, a stale price, an
        empty treasury)."""
        if credits <= 0 or self.backend.oracle_price_wad() is None:
            return 0
        usd = Decimal(credits) * Decimal(str(self.backend.dc_price_usd()))
        try:
            _, tokens = self.backend.quote_credits(usd)
            operator = self.backend.keys.operator
            if self.backend.balance_of(address_of(operator)) < tokens:
                return 0
            self.backend.fund(wallet.address, FUNDING_WEI)
            self.backend.transfer_tokens(operator, wallet.address, tokens)
            return self.backend.buy_credits(usd, buyer_key=wallet.private_key).credits
        except ChainError:
            return 0


@dataclass
class UsageMarket:
    """The users of a fleet and the credits they hold for the current epoch."""

    backend: ChainBackend
    fleet: Fleet
    network: NetworkConfig
    growth: Fraction
    users: int = 3
    wallets: list[Wallet] = field(init=False)
    metered: dict[str, str] = field(init=False)
    """sector → its usage category (sectors whose usage is paid)"""
    countersigned: set[str] = field(init=False)
    """sectors whose receipts the device must countersign"""
    budget: dict[str, int] = field(default_factory=dict)
    """user address → credits still to spend this epoch"""
    hours_left: int = 0
    epoch_figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wallets = user_wallets(self.fleet, self.users)
        sectors = load_sectors(self.network)
        self.metered = {name: c for name, p in sectors.items() if (c := p.usage_category())}
        self.countersigned = {name for name, p in sectors.items() if p.usage_countersigned()}

    def target_tokens(self, number: int) -> int:
        """Tokens the users aim to burn in epoch `number`: growth × number × the epoch's emission."""
        config = self.network
        emission = compute_epoch_emission(
            config.emission, config.token, window_for(config, number), config.epochs.genesis_ts
        )
        return int(self.growth * number * emission)

    def sellers(self) -> list[tuple[str, PrivateKey]]:
        """Who sells tokens to the users, in order: the treasury (the operator, if the deployment minted it
        a genesis allocation), then the owners who claimed."""
        treasury = [(address_of(self.backend.keys.operator), self.backend.keys.operator)]
        return treasury + [(owner.address, owner.private_key) for owner in self.fleet.owners]

    def buy_tokens(self, wanted: int) -> int:
        """Sellers sell what they hold to the users, evenly, until `wanted` tokens changed hands."""
        bought = 0
        for address, key in self.sellers():
            if bought >= wanted:
                break
            amount = min(self.backend.balance_of(address), wanted - bought)
            if amount <= 0:
                continue
            self.backend.fund(address, FUNDING_WEI)
            share, rest = divmod(amount, len(self.wallets))
            for index, user in enumerate(self.wallets):
                part = share + (1 if index < rest else 0)
                if part:
                    self.backend.transfer_tokens(key, user.address, part)
            bought += amount
        return bought

    def open_epoch(self, number: int) -> dict[str, Any]:
        """Buy this epoch's tokens and burn them for credits; returns what happened."""
        self.budget, self.hours_left = {}, self.network.epochs.length_seconds // HOUR
        target = self.target_tokens(number)
        figures: dict[str, Any] = {"target_ratio": str(self.growth * number), "tokens_bought": "0"}
        price_wad = self.backend.oracle_price_wad()
        if target <= 0 or not self.metered or price_wad is None:
            self.epoch_figures = {**figures, "credits_bought": 0}
            return self.epoch_figures
        bought = self.buy_tokens(target)
        credits = 0
        unit = 10**self.network.token.decimals
        credit_usd = Fraction(str(self.backend.dc_price_usd()))
        for user in self.wallets:
            tokens = self.backend.balance_of(user.address)
            # the most whole credits the tokens buy, less one: the burn is rounded up in the protocol's favour
            affordable = int(Fraction(tokens, unit) * Fraction(price_wad, WAD) / credit_usd) - 1
            if affordable <= 0:
                continue
            usd = Decimal(affordable) * Decimal(str(self.backend.dc_price_usd()))
            self.backend.fund(user.address, FUNDING_WEI)
            try:
                purchase = self.backend.buy_credits(usd, buyer_key=user.private_key)
            except ChainError:
                continue  # too little for one credit, or the price went stale: no sessions this epoch
            self.budget[user.address] = self.backend.credits_of(user.address)
            credits += purchase.credits
        self.epoch_figures = {**figures, "tokens_bought": str(bought), "credits_bought": credits}
        return self.epoch_figures

    def hour_receipts(self, hour_ts: int) -> list[bytes]:
        """Signed receipts of the hour's sessions: each user spends its remaining credits evenly over the
        hours left, on up to SESSIONS_PER_USER_HOUR honest devices of metered sectors."""
        hours = max(1, self.hours_left)
        self.hours_left -= 1
        serving = [
            d
            for d in self.fleet.devices
            if d.onboarded and d.behaviour == "honest" and d.sector in self.metered
        ]
        if not serving:
            return []
        wires = []
        for user in self.wallets:
            left = self.budget.get(user.address, 0)
            spend = left // hours
            if spend <= 0:
                continue
            rng = random.Random(f"{self.fleet.spec.seed}:usage:{user.address}:{hour_ts}")
            chosen = rng.sample(serving, min(SESSIONS_PER_USER_HOUR, len(serving)))
            share, rest = divmod(spend, len(chosen))
            for k, device in enumerate(chosen):
                credits = share + (1 if k < rest else 0)
                if credits <= 0:
                    continue
                simulation = self.fleet.simulations[device.sector]
                quantity, unit = simulation.session(self.fleet.sim_device(device), credits)
                receipt = UsageReceipt(
                    sector=device.sector,
                    device=self.fleet.key_of(device).device_id,
                    payer=user.address,
                    credits=credits,
                    quantity=quantity,
                    unit=unit,
                    ref=f"{hour_ts}:{k}",
                    ts=hour_ts + 1_800,
                )
                signed = sign_receipt(receipt, user.sign_text)
                if device.sector in self.countersigned:
                    signed = countersign(signed, self.fleet.key_of(device))
                wires.append(signed.to_wire())
            self.budget[user.address] = left - spend
        return wires
