# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Token price oracle (USD per whole token)
@custom:contract-name price_oracle
@license Apache-2.0
@notice Holds the token price in USD with 18 decimals and the time it was observed.
        A price older than `max_age` seconds is stale: `fresh_price` reverts, so the
        data-credit vault refuses to burn (a stale oracle halts burning rather than
        selling credits at a wrong price). Moves are bounded per unit of time, not per
        update: an update may move the price by at most `max_change_bps` basis points
        per `change_period` seconds of time elapsed since the last accepted price,
        counted on both clocks (observation time and block time, whichever is shorter)
        and at most one period's worth per update. So an update with the same
        observation time, or in the same block, as the last one cannot move the price,
        and over any T seconds of block time, however many updates a feeder sends, the
        price rises at most by a factor (1 + r·Δt₁)(1 + r·Δt₂)… ≤ e^(r·T) and falls at
        most to (1 − r·Δt₁)(1 − r·Δt₂)…, where r = max_change_bps / 10⁴ / change_period
        and Σ Δtᵢ ≤ T. The owner (the timelock, so only after its
        delay) can reset the price after an incident with `reset_price` (logged), and
        appoints feeders and changes the bounds.
"""

from snekmate.auth import ownable
initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
)


_BPS: constant(uint256) = 10_000


# @dev USD per whole token, 18 decimals (1 USD = 10**18).
price: public(uint256)


# @dev Observation time (unix seconds) of `price`.
updated_at: public(uint256)


# @dev A price older than this many seconds is stale.
max_age: public(uint256)


# @dev Block time (unix seconds) at which `price` was accepted.
accepted_at: public(uint256)


# @dev Largest move per `change_period` seconds, in basis points of the current price.
max_change_bps: public(uint256)


# @dev The time over which `max_change_bps` may be used up (e.g. 3,600: a rate per hour).
change_period: public(uint256)


# @dev Addresses allowed to post prices.
is_feeder: public(HashMap[address, bool])


event PriceUpdated:
    price: uint256
    observed_at: uint256
    feeder: indexed(address)


event PriceReset:
    price: uint256
    by: indexed(address)


event FeederSet:
    feeder: indexed(address)
    allowed: bool


event BoundsSet:
    max_age: uint256
    max_change_bps: uint256
    change_period: uint256


@deploy
def __init__(max_age_: uint256, max_change_bps_: uint256, change_period_: uint256, feeder: address):
    """
    @dev The deployer becomes the owner (deployment hands it to the timelock); `feeder` may post prices.
    @param max_age_ Staleness limit in seconds (> 0).
    @param max_change_bps_ Largest move per `change_period_` in basis points (> 0).
    @param change_period_ Seconds over which `max_change_bps_` may be used up (> 0).
    @param feeder The first price feeder.
    """
    ownable.__init__()
    self._set_bounds(max_age_, max_change_bps_, change_period_)
    self.is_feeder[feeder] = True
    log FeederSet(feeder=feeder, allowed=True)


@external
def set_price(new_price: uint256, observed_at: uint256):
    """
    @dev Posts a price observed at `observed_at`; feeders only.
    @notice The first price is free; later ones move at most `max_change_bps` per
            `change_period` of the time elapsed since the last accepted price (see above).
    @param new_price USD per whole token, 18 decimals.
    @param observed_at Observation time (unix seconds): not in the future, not stale, not
           older than the current price's.
    """
    assert self.is_feeder[msg.sender], "oracle: caller is not a feeder"
    assert new_price > 0, "oracle: zero price"
    assert observed_at <= block.timestamp, "oracle: price from the future"
    assert observed_at + self.max_age >= block.timestamp, "oracle: stale price"
    assert observed_at >= self.updated_at, "oracle: older than the current price"
    old: uint256 = self.price
    if old != 0:
        move: uint256 = new_price - old if new_price > old else old - new_price
        period: uint256 = self.change_period
        elapsed: uint256 = min(min(observed_at - self.updated_at, block.timestamp - self.accepted_at), period)
        assert move * _BPS * period <= old * self.max_change_bps * elapsed, "oracle: price move beyond bound"
    self.price = new_price
    self.updated_at = observed_at
    self.accepted_at = block.timestamp
    log PriceUpdated(price=new_price, observed_at=observed_at, feeder=msg.sender)


@external
def reset_price(new_price: uint256):
    """
    @dev Owner-only recovery (the timelock: after its delay): sets the price now, ignoring the move bound.
    @param new_price USD per whole token, 18 decimals.
    """
    ownable._check_owner()
    assert new_price > 0, "oracle: zero price"
    self.price = new_price
    self.updated_at = block.timestamp
    self.accepted_at = block.timestamp
    log PriceReset(price=new_price, by=msg.sender)


@external
def set_feeder(feeder: address, allowed: bool):
    """
    @dev Allows or revokes a price feeder; owner only.
    """
    ownable._check_owner()
    self.is_feeder[feeder] = allowed
    log FeederSet(feeder=feeder, allowed=allowed)


@external
def set_bounds(max_age_: uint256, max_change_bps_: uint256, change_period_: uint256):
    """
    @dev Changes the staleness limit and the move bound; owner only.
    """
    ownable._check_owner()
    self._set_bounds(max_age_, max_change_bps_, change_period_)


@external
@view
def is_stale() -> bool:
    """
    @dev True if there is no price or it is older than `max_age`.
    """
    return self.price == 0 or self.updated_at + self.max_age < block.timestamp


@external
@view
def fresh_price() -> uint256:
    """
    @dev The price, reverting if there is none or it is stale.
    @return uint256 USD per whole token, 18 decimals.
    """
    assert self.price != 0, "oracle: no price yet"
    assert self.updated_at + self.max_age >= block.timestamp, "oracle: price is stale"
    return self.price


@internal
def _set_bounds(max_age_: uint256, max_change_bps_: uint256, change_period_: uint256):
    assert max_age_ > 0, "oracle: max age is zero"
    assert max_change_bps_ > 0, "oracle: max change is zero"
    assert change_period_ > 0, "oracle: change period is zero"
    self.max_age = max_age_
    self.max_change_bps = max_change_bps_
    self.change_period = change_period_
    log BoundsSet(max_age=max_age_, max_change_bps=max_change_bps_, change_period=change_period_)
