# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Data credits: non-transferable, USD-priced service credits
@custom:contract-name data_credits
@license Apache-2.0
@notice Burn-and-mint: a user burns network tokens at the oracle price and receives
        credits worth a fixed USD amount each (Helium: 1 DC = $0.00001). The token
        amount burned is rounded up, in the protocol's favour. Credits cannot be
        transferred; only accounts with `ROUTER_ROLE` (service routers, the device
        registry) can spend them. Burning is refused while the oracle price is stale or
        the vault is paused. The admin role (granting routers and pausers) belongs to
        the timelock, so a new router takes effect only after its delay.
"""

from snekmate.auth import access_control
initializes: access_control

from snekmate.utils import pausable
initializes: pausable

from ethereum.ercs import IERC165
implements: IERC165

exports: (
    access_control.DEFAULT_ADMIN_ROLE,
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
    pausable.paused,
)

from . import IToken
from . import IPriceOracle


# @dev Role of accounts allowed to spend users' credits.
ROUTER_ROLE: public(constant(bytes32)) = keccak256("ROUTER_ROLE")


# @dev Role of accounts allowed to pause and unpause minting.
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")


_USD: constant(uint256) = 10**18


# @dev Credits have no fractional part.
decimals: public(constant(uint8)) = 0


token: public(immutable(IToken))
oracle: public(immutable(IPriceOracle))


# @dev USD per credit, 18 decimals (10**13 = $0.00001).
dc_price_usd: public(immutable(uint256))


# @dev 10**token.decimals(), cached.
_TOKEN_UNIT: immutable(uint256)


balanceOf: public(HashMap[address, uint256])
totalSupply: public(uint256)


# @dev Total tokens burned for credits, smallest unit.
total_burned: public(uint256)


event CreditsMinted:
    payer: indexed(address)
    recipient: indexed(address)
    credits: uint256
    tokens_burned: uint256
    price: uint256


event CreditsSpent:
    account: indexed(address)
    router: indexed(address)
    credits: uint256
    reason: bytes32


@deploy
def __init__(token_: IToken, oracle_: IPriceOracle, dc_price_usd_: uint256):
    """
    @dev The deployer becomes admin and pauser; deployment hands the admin role to the timelock
         and the pauser role to the pauser key, then renounces both.
    @param token_ The network token (must allow this contract to `burn_from`).
    @param oracle_ The price oracle.
    @param dc_price_usd_ USD per credit, 18 decimals (> 0).
    """
    assert dc_price_usd_ > 0, "credits: zero credit price"
    access_control.__init__()
    pausable.__init__()
    access_control._grant_role(PAUSER_ROLE, msg.sender)
    token = token_
    oracle = oracle_
    dc_price_usd = dc_price_usd_
    _TOKEN_UNIT = 10 ** convert(staticcall token_.decimals(), uint256)


@external
@view
def quote_tokens(credits: uint256) -> uint256:
    """
    @dev Tokens (smallest unit) burned for `credits` at the current fresh price, rounded up.
    """
    return self._tokens_for(credits, staticcall oracle.fresh_price())


@external
def mint_credits(recipient: address, credits: uint256, max_tokens: uint256) -> uint256:
    """
    @dev Burns the caller's tokens at the oracle price and credits `recipient`.
    @notice The caller must first `approve` this contract on the token.
    @param recipient Receiver of the credits.
    @param credits Number of credits to mint (> 0).
    @param max_tokens Slippage guard: revert if more tokens would be burned.
    @return uint256 Tokens burned, smallest unit.
    """
    pausable._require_not_paused()
    assert credits > 0, "credits: zero credits"
    assert recipient != empty(address), "credits: mint to the zero address"
    price: uint256 = staticcall oracle.fresh_price()
    burned: uint256 = self._tokens_for(credits, price)
    assert burned <= max_tokens, "credits: burn above max_tokens"
    extcall token.burn_from(msg.sender, burned)
    self.total_burned += burned
    self.balanceOf[recipient] += credits
    self.totalSupply += credits
    log CreditsMinted(payer=msg.sender, recipient=recipient, credits=credits, tokens_burned=burned, price=price)
    return burned


@external
def spend(account: address, credits: uint256, reason: bytes32):
    """
    @dev Spends `credits` of `account`; service routers only.
    @param account Whose credits are spent.
    @param credits Amount to spend.
    @param reason What they pay for (e.g. keccak256("onboarding")).
    """
    access_control._check_role(ROUTER_ROLE, msg.sender)
    balance: uint256 = self.balanceOf[account]
    assert balance >= credits, "credits: insufficient balance"
    self.balanceOf[account] = balance - credits
    self.totalSupply -= credits
    log CreditsSpent(account=account, router=msg.sender, credits=credits, reason=reason)


@external
def pause():
    """
    @dev Stops minting of credits; pausers only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._pause()


@external
def unpause():
    """
    @dev Resumes minting of credits; pausers only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._unpause()


@internal
@view
def _tokens_for(credits: uint256, price: uint256) -> uint256:
    # ceil(credits · dc_price_usd · unit / price): the user never burns less than the USD value.
    return (credits * dc_price_usd * _TOKEN_UNIT + price - 1) // price
