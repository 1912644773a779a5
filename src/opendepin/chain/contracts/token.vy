# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title OpenDePIN network token
@custom:contract-name token
@license Apache-2.0
@notice ERC-20 (snekmate `erc20`) with a hard maximum supply. After deployment the
        only minter is the rewards distributor, set once by the owner; the
        distributor in turn never mints more than the emission schedule allows.
        Deployment renounces the ownership once the distributor is set, so nobody
        can change anything after that. An optional genesis allocation
        is minted in the constructor and counts against the maximum supply.
"""

from ethereum.ercs import IERC20
implements: IERC20

from ethereum.ercs import IERC20Detailed
implements: IERC20Detailed

from snekmate.auth import ownable
initializes: ownable

from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.burn,
    erc20.burn_from,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
)


# @dev The hard cap on `totalSupply`, in the smallest unit.
max_supply: public(immutable(uint256))


# @dev The only address allowed to mint (the rewards distributor).
distributor: public(address)


# @dev Emitted once, when the owner sets the distributor.
event DistributorSet:
    distributor: indexed(address)


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    decimals_: uint8,
    max_supply_: uint256,
    genesis_receiver: address,
    genesis_amount: uint256,
):
    """
    @dev Deploys the token; the deployer becomes the owner.
    @param name_ The token name (at most 25 characters).
    @param symbol_ The token symbol (at most 5 characters).
    @param decimals_ Decimal places of the smallest unit.
    @param max_supply_ Hard cap on the total supply, in the smallest unit.
    @param genesis_receiver Receiver of the genesis allocation (ignored if the amount is 0).
    @param genesis_amount Genesis allocation, in the smallest unit; counts against the cap.
    """
    assert max_supply_ > 0, "token: max supply is zero"
    assert genesis_amount <= max_supply_, "token: genesis above max supply"
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")
    max_supply = max_supply_
    if genesis_amount > 0:
        erc20._mint(genesis_receiver, genesis_amount)


@external
def set_distributor(distributor_: address):
    """
    @dev Sets the one address that may mint; can be done once, by the owner.
    @param distributor_ The rewards distributor contract.
    """
    ownable._check_owner()
    assert self.distributor == empty(address), "token: distributor already set"
    assert distributor_ != empty(address), "token: distributor is the zero address"
    self.distributor = distributor_
    log DistributorSet(distributor=distributor_)


@external
def mint(owner: address, amount: uint256):
    """
    @dev Mints `amount` to `owner`; only the distributor, never above `max_supply`.
    @param owner The receiver.
    @param amount The amount in the smallest unit.
    """
    assert msg.sender == self.distributor, "token: caller is not the distributor"
    assert erc20.totalSupply + amount <= max_supply, "token: max supply exceeded"
    erc20._mint(owner, amount)
