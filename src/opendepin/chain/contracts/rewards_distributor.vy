# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Rewards distributor: epoch roots signed by k-of-n oracles, cumulative claims
@custom:contract-name rewards_distributor
@license Apache-2.0
@notice Settlement of the node's epochs (see the README, "Settlement contracts").
        Epochs are posted strictly in order, each once it has ended on the epoch clock:
        `(epoch, root, manifest hash, total)` with at least `threshold` signatures of
        distinct oracles over the EIP-712 message
        `EpochRoot(uint256 epoch,bytes32 root,bytes32 manifestHash,uint256 total)`
        (the domain binds chain id and this contract's address). `total` is the running
        total the root pays, i.e. the sum of its cumulative leaves: a signature is valid
        at one point of the sequence only, so signatures can neither skip an epoch nor be
        replayed after another total was posted. The running total never decreases and
        never exceeds the schedule allowance: the sum over the posted epochs of
        `cap(e) = initial_epoch_cap · (decay_bps/10⁴)^⌊(e − first_epoch)/decay_period_epochs⌋`,
        computed by exponentiation by squaring in 36-decimal fixed point and accumulated
        in 10⁻¹⁸ of the smallest unit, every step rounded down: the allowance is never
        above the exact schedule, at the same gas for any schedule length. An epoch that
        pays nobody while nothing was ever paid posts the empty root with total 0.
        A claim `(account, cumulative, proof)` is checked against the latest root (leaves
        hashed as OpenZeppelin's StandardMerkleTree) and mints `cumulative − claimed[account]`;
        total minted never exceeds the posted total. The owner (the timelock) replaces the
        oracle set and appoints pausers; pausers stop postings and claims.
"""

from snekmate.auth import ownable
initializes: ownable

from snekmate.utils import pausable
initializes: pausable

from . import pauser
initializes: pauser[ownable := ownable, pausable := pausable]

from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

from snekmate.utils import ecdsa
from snekmate.utils import merkle_proof_verification

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    pauser.is_pauser,
    pauser.set_pauser,
    pauser.pause,
    pauser.unpause,
    eip712_domain_separator.eip712Domain,
)

from . import IToken


# @dev Upper bound on the oracle set (a `set_oracles` call must fit a 1,024-byte timelock payload).
MAX_ORACLES: constant(uint256) = 16


# @dev Upper bound on a proof's length (a tree of up to 2**64 leaves).
MAX_PROOF: constant(uint256) = 64


_BPS: constant(uint256) = 10_000


# @dev Fixed-point one of the decay factor (36 decimals).
_ONE: constant(uint256) = 10**36


# @dev The schedule allowance is kept in 10⁻¹⁸ of the smallest token unit.
ALLOWANCE_SCALE: public(constant(uint256)) = 10**18


# @dev EIP-712 type hash of an epoch posting.
EPOCH_TYPEHASH: public(constant(bytes32)) = keccak256(
    "EpochRoot(uint256 epoch,bytes32 root,bytes32 manifestHash,uint256 total)"
)


token: public(immutable(IToken))


# @dev Emission schedule bound (smallest units per epoch).
initial_epoch_cap: public(immutable(uint256))
decay_bps: public(immutable(uint256))
decay_period_epochs: public(immutable(uint256))
first_epoch: public(immutable(uint256))


# @dev decay_bps / 10⁴ in 36-decimal fixed point (exact).
_DECAY_FACTOR: immutable(uint256)


# @dev Epoch clock: epoch e ends at genesis_time + (e + 1) · epoch_seconds.
genesis_time: public(immutable(uint256))
epoch_seconds: public(immutable(uint256))


# @dev Oracle set and threshold.
oracles: public(DynArray[address, MAX_ORACLES])
is_oracle: public(HashMap[address, bool])
threshold: public(uint256)


# @dev The one epoch that may be posted next (every lower one is posted).
next_epoch: public(uint256)


# @dev The latest posted root (claims verify against it).
latest_root: public(bytes32)


# @dev Root of each posted epoch, for the "verify my reward" panel; the manifest hash and
# emission of each epoch are in its `EpochPosted` event (kept out of storage to save gas).
epoch_root: public(HashMap[uint256, bytes32])


# @dev Running total the latest root pays, and the sum of minted claims (total_claimed <= total_posted).
total_posted: public(uint256)
total_claimed: public(uint256)


# @dev Σ cap(e) over the posted epochs, in 10⁻¹⁸ units, rounded down.
schedule_allowance: public(uint256)


# @dev Cumulative amount already paid to each account.
claimed: public(HashMap[address, uint256])


event EpochPosted:
    epoch: indexed(uint256)
    root: bytes32
    manifest_hash: bytes32
    emission: uint256
    total_posted: uint256
    submitter: indexed(address)


event Claimed:
    account: indexed(address)
    amount: uint256
    cumulative: uint256
    epoch: indexed(uint256)


event OraclesSet:
    oracles: DynArray[address, MAX_ORACLES]
    threshold: uint256


@deploy
def __init__(
    token_: IToken,
    oracles_: DynArray[address, MAX_ORACLES],
    threshold_: uint256,
    initial_epoch_cap_: uint256,
    decay_bps_: uint256,
    decay_period_epochs_: uint256,
    first_epoch_: uint256,
    genesis_time_: uint256,
    epoch_seconds_: uint256,
):
    """
    @dev The deployer becomes the owner; deployment hands ownership to the timelock.
    @param token_ The network token; this contract must be its distributor.
    @param oracles_ Distinct oracle signer addresses.
    @param threshold_ Signatures required per posting (1 <= k <= n).
    @param initial_epoch_cap_ Largest emission of one epoch in the first schedule period (< 2¹²⁸).
    @param decay_bps_ Multiplier applied to the cap every period, basis points (<= 10⁴).
    @param decay_period_epochs_ Epochs per schedule period (0: the cap never decays).
    @param first_epoch_ The first epoch to be posted.
    @param genesis_time_ Start (unix seconds) of epoch 0.
    @param epoch_seconds_ Epoch length (> 0); an epoch may be posted only once it has ended.
    """
    assert decay_bps_ <= _BPS, "distributor: decay above 100%"
    assert initial_epoch_cap_ < 2**128, "distributor: epoch cap too large"
    assert epoch_seconds_ > 0, "distributor: zero epoch length"
    ownable.__init__()
    pausable.__init__()
    eip712_domain_separator.__init__("OpenDePIN RewardsDistributor", "1")
    token = token_
    initial_epoch_cap = initial_epoch_cap_
    decay_bps = decay_bps_
    decay_period_epochs = decay_period_epochs_
    first_epoch = first_epoch_
    _DECAY_FACTOR = decay_bps_ * (_ONE // _BPS)
    genesis_time = genesis_time_
    epoch_seconds = epoch_seconds_
    self.next_epoch = first_epoch_
    self._set_oracles(oracles_, threshold_)


@external
@view
def epoch_cap(epoch: uint256) -> uint256:
    """
    @dev The schedule's cap of epoch `epoch`, smallest units, rounded down.
    """
    return self._cap_scaled(epoch) // ALLOWANCE_SCALE


@external
@view
def epoch_cap_scaled(epoch: uint256) -> uint256:
    """
    @dev The schedule's cap of epoch `epoch` in 10⁻¹⁸ units, rounded down (what a post adds to the allowance).
    """
    return self._cap_scaled(epoch)


@external
@view
def latest_epoch() -> uint256:
    """
    @dev The latest posted epoch; reverts while none is.
    """
    assert self.next_epoch > first_epoch, "distributor: no epoch posted"
    return self.next_epoch - 1


@external
@view
def epoch_digest(epoch: uint256, root: bytes32, manifest_hash: bytes32, total: uint256) -> bytes32:
    """
    @dev The EIP-712 digest the oracles sign for a posting.
    """
    return self._epoch_digest(epoch, root, manifest_hash, total)


@external
def post_epoch(
    epoch: uint256,
    root: bytes32,
    manifest_hash: bytes32,
    total: uint256,
    signatures: DynArray[Bytes[65], MAX_ORACLES],
):
    """
    @dev Posts the next epoch's rewards root; anyone may submit, the oracles' signatures authorise.
    @notice Signatures must come from distinct oracles, ordered by ascending signer address.
    @param epoch The epoch number; must equal `next_epoch`, and the epoch must have ended.
    @param root Merkle root of the cumulative rewards tree (empty only while `total` is 0).
    @param manifest_hash Hash of the epoch manifest (inputs, params, engine version).
    @param total Running total the root pays (Σ of its leaves), smallest unit; at least
           `total_posted`, at most the schedule allowance through `epoch`.
    @param signatures Oracle signatures (65 bytes each) over `epoch_digest`.
    """
    pausable._require_not_paused()
    assert epoch == self.next_epoch, "distributor: not the next epoch"
    assert root != empty(bytes32) or total == 0, "distributor: empty root with a total"
    assert genesis_time + (epoch + 1) * epoch_seconds <= block.timestamp, "distributor: epoch has not ended"
    previous: uint256 = self.total_posted
    assert total >= previous, "distributor: total below posted total"
    allowance: uint256 = self.schedule_allowance + self._cap_scaled(epoch)
    assert total * ALLOWANCE_SCALE <= allowance, "distributor: total above schedule"
    self._check_signatures(self._epoch_digest(epoch, root, manifest_hash, total), signatures)
    self.next_epoch = epoch + 1
    self.latest_root = root
    self.epoch_root[epoch] = root
    self.total_posted = total
    self.schedule_allowance = allowance
    log EpochPosted(
        epoch=epoch,
        root=root,
        manifest_hash=manifest_hash,
        emission=total - previous,
        total_posted=total,
        submitter=msg.sender,
    )


@external
def claim(account: address, cumulative: uint256, proof: DynArray[bytes32, MAX_PROOF]) -> uint256:
    """
    @dev Mints `cumulative − claimed[account]` to `account` (anyone may submit).
    @param account The leaf's address.
    @param cumulative The leaf's lifetime reward, smallest unit.
    @param proof Merkle proof of the leaf against `latest_root`.
    @return uint256 The amount minted.
    """
    pausable._require_not_paused()
    root: bytes32 = self.latest_root
    assert root != empty(bytes32), "distributor: no root to claim against"
    leaf: bytes32 = keccak256(keccak256(abi_encode(account, cumulative)))
    assert merkle_proof_verification._verify(proof, root, leaf), "distributor: invalid proof"
    already: uint256 = self.claimed[account]
    assert cumulative > already, "distributor: nothing to claim"
    amount: uint256 = cumulative - already
    assert self.total_claimed + amount <= self.total_posted, "distributor: claims exceed posted emission"
    self.claimed[account] = cumulative
    self.total_claimed += amount
    extcall token.mint(account, amount)
    log Claimed(account=account, amount=amount, cumulative=cumulative, epoch=self.next_epoch - 1)
    return amount


@external
def set_oracles(oracles_: DynArray[address, MAX_ORACLES], threshold_: uint256):
    """
    @dev Replaces the oracle set; owner (the timelock) only.
    """
    ownable._check_owner()
    for oracle: address in self.oracles:
        self.is_oracle[oracle] = False
    self._set_oracles(oracles_, threshold_)


@internal
@view
def _cap_scaled(epoch: uint256) -> uint256:
    # initial · factor^periods / 10¹⁸: the cap in 10⁻¹⁸ units, never above the exact value.
    if epoch < first_epoch:
        return 0
    if decay_period_epochs == 0:
        return initial_epoch_cap * ALLOWANCE_SCALE
    periods: uint256 = (epoch - first_epoch) // decay_period_epochs
    return initial_epoch_cap * self._pow_down(_DECAY_FACTOR, periods) // (_ONE // ALLOWANCE_SCALE)


@internal
@pure
def _pow_down(base: uint256, exponent: uint256) -> uint256:
    # base^exponent in 36-decimal fixed point for base <= 1, by squaring: at most 2·log2(exponent) + 1
    # products, each rounded down, so the result never exceeds the exact power.
    result: uint256 = _ONE
    square: uint256 = base
    rest: uint256 = exponent
    for _: uint256 in range(256):
        if rest & 1 == 1:
            result = result * square // _ONE
        rest = rest >> 1
        if rest == 0 or result == 0:
            break
        square = square * square // _ONE
    return result


@internal
@view
def _epoch_digest(epoch: uint256, root: bytes32, manifest_hash: bytes32, total: uint256) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(abi_encode(EPOCH_TYPEHASH, epoch, root, manifest_hash, total))
    )


@internal
@view
def _check_signatures(digest: bytes32, signatures: DynArray[Bytes[65], MAX_ORACLES]):
    # Distinct oracles are enforced by requiring strictly ascending signer addresses.
    assert len(signatures) >= self.threshold, "distributor: not enough oracle signatures"
    previous: address = empty(address)
    for signature: Bytes[65] in signatures:
        signer: address = ecdsa._recover_sig(digest, signature)
        assert self.is_oracle[signer], "distributor: signer is not an oracle"
        assert convert(signer, uint160) > convert(previous, uint160), "distributor: signers not ascending"
        previous = signer


@internal
def _set_oracles(oracles_: DynArray[address, MAX_ORACLES], threshold_: uint256):
    assert threshold_ >= 1, "distributor: threshold is zero"
    assert threshold_ <= len(oracles_), "distributor: threshold above oracle count"
    for oracle: address in oracles_:
        assert oracle != empty(address), "distributor: oracle is the zero address"
        assert not self.is_oracle[oracle], "distributor: duplicate oracle"
        self.is_oracle[oracle] = True
    self.oracles = oracles_
    self.threshold = threshold_
    log OraclesSet(oracles=oracles_, threshold=threshold_)
