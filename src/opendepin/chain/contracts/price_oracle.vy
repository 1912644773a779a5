# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Token price oracle (USD per whole token)
@custom:contract-name price_oracle
@license Apache-2.0
@notice Holds the token price in USD with 18 decimals and the time it was observed.
        A price older than `max_age` seconds is stale: `fresh_price` reverts, so the
        data-credit vault refuses to burn (specs/economics.md, Akash-style safety:
        "halted when the oracle price is stale"). An update may move the price by at
        most `max_change_bps` basis points; the owner can reset the price after an
        incident with `reset_price` (logged). The bound catches a glitching feed; it is
        per update, not per unit of time, so feeders are trusted (a hostile feeder can
        chain updates): use several feeders behind a TWAP for a public network.
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


# @dev Largest move per update, in basis points of the current price.
max_change_bps: public(uint256)


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


@deploy
def __init__(max_age_: uint256, max_change_bps_: uint256, feeder: address):
    """
    @dev The deployer becomes the owner; `feeder` may post prices.
    @param max_age_ Staleness limit in seconds (> 0).
    @param max_change_bps_ Largest move per update in basis points (> 0).
    @param feeder The first price feeder.
    """
    ownable.__init__()
    self._set_bounds(max_age_, max_change_bps_)
    self.is_feeder[feeder] = True
    log FeederSet(feeder=feeder, allowed=True)


@external
def set_price(new_price: uint256, observed_at: uint256):
    """
    @dev Posts a price observed at `observed_at`; feeders only.
    @notice The first price is free; later ones move at most `max_change_bps`.
    @param new_price USD per whole token, 18 decimals.
    @param observed_at Observation time (unix seconds), not in the future and not stale.
    """
    assert self.is_feeder[msg.sender], "oracle: caller is not a feeder"
    assert new_price > 0, "oracle: zero price"
    assert observed_at <= block.timestamp, "oracle: price from the future"
    assert observed_at + self.max_age >= block.timestamp, "oracle: stale price"
    assert observed_at >= self.updated_at, "oracle: older than the current price"
    old: uint256 = self.price
    if old != 0:
        move: uint256 = new_price - old if new_price > old else old - new_price
        assert move * _BPS <= old * self.max_change_bps, "oracle: price move beyond bound"
    self.price = new_price
    self.updated_at = observed_at
    log PriceUpdated(price=new_price, observed_at=observed_at, feeder=msg.sender)


@external
def reset_price(new_price: uint256):
    """
    @dev Owner-only recovery: sets the price now, ignoring the move bound.
    @param new_price USD per whole token, 18 decimals.
    """
    ownable._check_owner()
    assert new_price > 0, "oracle: zero price"
    self.price = new_price
    self.updated_at = block.timestamp
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
def set_bounds(max_age_: uint256, max_change_bps_: uint256):
    """
    @dev Changes the staleness limit and the move bound; owner only.
    """
    ownable._check_owner()
    self._set_bounds(max_age_, max_change_bps_)


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
def _set_bounds(max_age_: uint256, max_change_bps_: uint256):
    assert max_age_ > 0, "oracle: max age is zero"
    assert max_change_bps_ > 0, "oracle: max change is zero"
    self.max_age = max_age_
    self.max_change_bps = max_change_bps_
    log BoundsSet(max_age=max_age_, max_change_bps=max_change_bps_)
