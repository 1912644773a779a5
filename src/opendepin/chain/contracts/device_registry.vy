# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Device registry: one ERC-721 token per physical device
@custom:contract-name device_registry
@license Apache-2.0
@notice Onboarding: a maker (manufacturer) signs, with its EVM key, the EIP-712 message
        `Onboard(bytes32 deviceKey,address owner,uint64 h3Cell)`, which covers everything
        `register_device` stores (the token id is the device key, the owner, the initial
        location; the maker is the signer), so whoever submits a pending registration
        (a front-runner too) can change none of it. Anyone holding that signature may
        register the device, paying the onboarding fee in data credits from their own
        credit balance. The token id is the 32-byte device key read as an integer. The
        owner (or an approved operator) asserts later locations as H3 cell ids and may
        transfer the device. The owner of this contract (the timelock, so only after
        its delay) accepts makers, sets the fee and appoints pausers.
"""

from ethereum.ercs import IERC165
implements: IERC165

from ethereum.ercs import IERC721
implements: IERC721

from snekmate.auth import ownable
initializes: ownable

from snekmate.tokens import erc721
initializes: erc721[ownable := ownable]

from snekmate.utils import pausable
initializes: pausable

from . import pauser
initializes: pauser[ownable := ownable, pausable := pausable]

from snekmate.utils import ecdsa
from snekmate.utils import eip712_domain_separator
uses: eip712_domain_separator

exports: (
    erc721.supportsInterface,
    erc721.balanceOf,
    erc721.ownerOf,
    erc721.getApproved,
    erc721.isApprovedForAll,
    erc721.approve,
    erc721.setApprovalForAll,
    erc721.transferFrom,
    erc721.safeTransferFrom,
    erc721.name,
    erc721.symbol,
    erc721.totalSupply,
    erc721.tokenByIndex,
    erc721.tokenOfOwnerByIndex,
    erc721.DOMAIN_SEPARATOR,
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    pauser.is_pauser,
    pauser.set_pauser,
    pauser.pause,
    pauser.unpause,
)

from . import IDataCredits


# @dev EIP-712 type hash of the maker's onboarding attestation.
ONBOARD_TYPEHASH: public(constant(bytes32)) = keccak256("Onboard(bytes32 deviceKey,address owner,uint64 h3Cell)")


# @dev Reason tag passed to the credit vault for onboarding fees.
ONBOARDING_REASON: public(constant(bytes32)) = keccak256("onboarding")


credits: public(immutable(IDataCredits))


# @dev Onboarding fee in data credits, paid by the caller of `register_device`.
onboarding_fee: public(uint256)


# @dev Makers whose attestations are accepted.
is_maker: public(HashMap[address, bool])


# @dev Last asserted H3 cell of each device (0 = none).
location: public(HashMap[uint256, uint64])


# @dev Maker that attested each device.
maker_of: public(HashMap[uint256, address])


event DeviceRegistered:
    token_id: indexed(uint256)
    owner: indexed(address)
    maker: indexed(address)
    payer: address
    fee: uint256


event LocationAsserted:
    token_id: indexed(uint256)
    h3_cell: uint64
    by: indexed(address)


event MakerSet:
    maker: indexed(address)
    allowed: bool


event OnboardingFeeSet:
    fee: uint256


@deploy
def __init__(credits_: IDataCredits, onboarding_fee_: uint256):
    """
    @dev The deployer becomes the owner (deployment hands it to the timelock). This contract must hold `ROUTER_ROLE`
         on the credit vault when `onboarding_fee_` is not zero.
    @param credits_ The data-credit vault.
    @param onboarding_fee_ Fee in credits per onboarded device.
    """
    ownable.__init__()
    erc721.__init__("OpenDePIN Device", "ODEV", "", "OpenDePIN DeviceRegistry", "1")
    pausable.__init__()
    credits = credits_
    self.onboarding_fee = onboarding_fee_
    log OnboardingFeeSet(fee=onboarding_fee_)


@external
@pure
def token_id_of(device_key: bytes32) -> uint256:
    """
    @dev The token id of a device key.
    """
    return convert(device_key, uint256)


@external
@view
def onboard_digest(device_key: bytes32, owner: address, h3_cell: uint64) -> bytes32:
    """
    @dev The EIP-712 digest a maker signs to onboard `device_key` for `owner` at `h3_cell`.
    """
    return self._onboard_digest(device_key, owner, h3_cell)


@external
def register_device(device_key: bytes32, owner: address, h3_cell: uint64, signature: Bytes[65]) -> uint256:
    """
    @dev Mints the device token to `owner` after checking the maker's signature;
         charges the onboarding fee to the caller's data credits.
    @param device_key The device's 32-byte public key.
    @param owner The owner wallet bound by the maker's attestation.
    @param h3_cell The initial location (H3 cell id), or 0 for none; bound by the attestation too.
    @param signature The maker's 65-byte signature over `onboard_digest`.
    @return uint256 The token id.
    """
    pausable._require_not_paused()
    maker: address = ecdsa._recover_sig(self._onboard_digest(device_key, owner, h3_cell), signature)
    assert self.is_maker[maker], "registry: signer is not an authorised maker"
    token_id: uint256 = convert(device_key, uint256)
    fee: uint256 = self.onboarding_fee
    if fee > 0:
        extcall credits.spend(msg.sender, fee, ONBOARDING_REASON)
    erc721._mint(owner, token_id)
    self.maker_of[token_id] = maker
    log DeviceRegistered(token_id=token_id, owner=owner, maker=maker, payer=msg.sender, fee=fee)
    if h3_cell != 0:
        self._assert_location(token_id, h3_cell)
    return token_id


@external
def assert_location(token_id: uint256, h3_cell: uint64):
    """
    @dev Records the device's H3 cell; the owner or an approved operator only.
    """
    pausable._require_not_paused()
    assert erc721._is_approved_or_owner(msg.sender, token_id), "registry: caller is not owner nor approved"
    self._assert_location(token_id, h3_cell)


@external
def set_maker(maker: address, allowed: bool):
    """
    @dev Accepts or revokes a maker's attestations; owner only.
    """
    ownable._check_owner()
    assert maker != empty(address), "registry: maker is the zero address"
    self.is_maker[maker] = allowed
    log MakerSet(maker=maker, allowed=allowed)


@external
def set_onboarding_fee(fee: uint256):
    """
    @dev Changes the onboarding fee (credits); owner only.
    """
    ownable._check_owner()
    self.onboarding_fee = fee
    log OnboardingFeeSet(fee=fee)


@internal
@view
def _onboard_digest(device_key: bytes32, owner: address, h3_cell: uint64) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(abi_encode(ONBOARD_TYPEHASH, device_key, owner, h3_cell))
    )


@internal
def _assert_location(token_id: uint256, h3_cell: uint64):
    # An H3 cell id has mode 1 in bits 59-62 (h3 index "mode" field).
    assert (convert(h3_cell, uint256) >> 59) & 15 == 1, "registry: not an H3 cell id"
    self.location[token_id] = h3_cell
    log LocationAsserted(token_id=token_id, h3_cell=h3_cell, by=msg.sender)
