# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Rewards distributor: epoch roots signed by k-of-n oracles, cumulative claims
@custom:contract-name rewards_distributor
@license Apache-2.0
@notice Settlement (DESIGN.md "Rewards tree"; specs/production-and-explorer.md, "Settlement
        (EVM)"). For each epoch the oracles post `(epoch, root, manifest hash, emission)`
        with at least `threshold` signatures of distinct oracles over the EIP-712 message
        `EpochRoot(uint256 epoch,bytes32 root,bytes32 manifestHash,uint256 emission)`
        (the domain binds chain id and this contract's address). Epochs only move
        forward, so a posted root can never be replaced. `emission` is bounded by the
        on-chain schedule: `epoch_cap(e) = initial_epoch_cap · (decay_bps/10⁴)^⌊(e −
        first_epoch)/decay_period_epochs⌋` (each step rounded up), times the number of epochs the post covers.
        A claim `(account, cumulative, proof)` is checked against the latest root
        (leaves hashed as OpenZeppelin's StandardMerkleTree) and mints
        `cumulative − claimed[account]`; total minted never exceeds total posted.
"""

from snekmate.auth import ownable
initializes: ownable

from snekmate.utils import pausable
initializes: pausable

from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

from snekmate.utils import ecdsa
from snekmate.utils import merkle_proof_verification

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    eip712_domain_separator.eip712Domain,
)

from . import IToken


# @dev Upper bound on the oracle set.
MAX_ORACLES: constant(uint256) = 32


# @dev Upper bound on a proof's length (a tree of up to 2**64 leaves).
MAX_PROOF: constant(uint256) = 64


# @dev Upper bound on schedule periods applied (beyond, the cap stays at this period's value).
_MAX_DECAYS: constant(uint256) = 512


_BPS: constant(uint256) = 10_000


# @dev EIP-712 type hash of an epoch posting.
EPOCH_TYPEHASH: public(constant(bytes32)) = keccak256(
    "EpochRoot(uint256 epoch,bytes32 root,bytes32 manifestHash,uint256 emission)"
)


token: public(immutable(IToken))


# @dev Emission schedule bound (smallest units per epoch).
initial_epoch_cap: public(immutable(uint256))
decay_bps: public(immutable(uint256))
decay_period_epochs: public(immutable(uint256))
first_epoch: public(immutable(uint256))


# @dev Epoch clock (epoch e ends at genesis_time + (e + 1) · epoch_seconds); 0 seconds disables the check.
genesis_time: public(immutable(uint256))
epoch_seconds: public(immutable(uint256))


# @dev Oracle set and threshold.
oracles: public(DynArray[address, MAX_ORACLES])
is_oracle: public(HashMap[address, bool])
threshold: public(uint256)


# @dev The next epoch that may be posted (every lower epoch is settled or skipped).
next_epoch: public(uint256)


# @dev The latest posted epoch and its root (claims verify against it).
latest_epoch: public(uint256)
latest_root: public(bytes32)


# @dev Root of each posted epoch, for the "verify my reward" panel; the manifest hash and
# emission of each epoch are in its `EpochPosted` event (kept out of storage to save gas).
epoch_root: public(HashMap[uint256, bytes32])


# @dev Sum of posted emissions and of minted claims (total_claimed <= total_posted).
total_posted: public(uint256)
total_claimed: public(uint256)


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
    @dev The deployer becomes the owner (it may pause and replace the oracle set).
    @param token_ The network token; this contract must be its distributor.
    @param oracles_ Distinct oracle signer addresses.
    @param threshold_ Signatures required per posting (1 <= k <= n).
    @param initial_epoch_cap_ Largest emission of one epoch in the first schedule period.
    @param decay_bps_ Multiplier applied to the cap every period, basis points (<= 10⁴).
    @param decay_period_epochs_ Epochs per schedule period (0: the cap never decays).
    @param first_epoch_ The first epoch that may be posted.
    @param genesis_time_ Start (unix seconds) of epoch 0.
    @param epoch_seconds_ Epoch length; an epoch may be posted only once it has ended (0: no check).
    """
    assert decay_bps_ <= _BPS, "distributor: decay above 100%"
    ownable.__init__()
    pausable.__init__()
    eip712_domain_separator.__init__("OpenDePIN RewardsDistributor", "1")
    token = token_
    initial_epoch_cap = initial_epoch_cap_
    decay_bps = decay_bps_
    decay_period_epochs = decay_period_epochs_
    first_epoch = first_epoch_
    genesis_time = genesis_time_
    epoch_seconds = epoch_seconds_
    self.next_epoch = first_epoch_
    self._set_oracles(oracles_, threshold_)


@external
@view
def epoch_cap(epoch: uint256) -> uint256:
    """
    @dev The most one epoch `epoch` may emit under the schedule.
    """
    return self._epoch_cap(epoch)


@external
@view
def epoch_digest(epoch: uint256, root: bytes32, manifest_hash: bytes32, emission: uint256) -> bytes32:
    """
    @dev The EIP-712 digest the oracles sign for a posting.
    """
    return self._epoch_digest(epoch, root, manifest_hash, emission)


@external
def post_epoch(
    epoch: uint256,
    root: bytes32,
    manifest_hash: bytes32,
    emission: uint256,
    signatures: DynArray[Bytes[65], MAX_ORACLES],
):
    """
    @dev Posts an epoch's rewards root; anyone may submit, the oracles' signatures authorise.
    @notice Signatures must come from distinct oracles, ordered by ascending signer address.
            Epochs between the last posted one and `epoch` are skipped; their schedule
            allowance is usable by this post (`emission <= cap(epoch) · epochs covered`).
            With an epoch clock, only epochs that have ended may be posted.
    @param epoch The epoch number (>= next_epoch).
    @param root Merkle root of the cumulative rewards tree.
    @param manifest_hash Hash of the epoch manifest (inputs, params, engine version).
    @param emission Tokens this epoch adds to what may be claimed, smallest unit.
    @param signatures Oracle signatures (65 bytes each) over `epoch_digest`.
    """
    pausable._require_not_paused()
    assert epoch >= self.next_epoch, "distributor: epoch already posted"
    assert root != empty(bytes32), "distributor: empty root"
    if epoch_seconds != 0:
        # Oracles cannot post ahead of time, so skipping epochs never unlocks more than has elapsed.
        assert genesis_time + (epoch + 1) * epoch_seconds <= block.timestamp, "distributor: epoch has not ended"
    covered: uint256 = epoch + 1 - self.next_epoch
    assert emission <= self._epoch_cap(epoch) * covered, "distributor: emission above schedule"
    self._check_signatures(self._epoch_digest(epoch, root, manifest_hash, emission), signatures)
    self.next_epoch = epoch + 1
    self.latest_epoch = epoch
    self.latest_root = root
    self.epoch_root[epoch] = root
    self.total_posted += emission
    log EpochPosted(
        epoch=epoch,
        root=root,
        manifest_hash=manifest_hash,
        emission=emission,
        total_posted=self.total_posted,
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
    assert root != empty(bytes32), "distributor: no epoch posted"
    leaf: bytes32 = keccak256(keccak256(abi_encode(account, cumulative)))
    assert merkle_proof_verification._verify(proof, root, leaf), "distributor: invalid proof"
    already: uint256 = self.claimed[account]
    assert cumulative > already, "distributor: nothing to claim"
    amount: uint256 = cumulative - already
    assert self.total_claimed + amount <= self.total_posted, "distributor: claims exceed posted emission"
    self.claimed[account] = cumulative
    self.total_claimed += amount
    extcall token.mint(account, amount)
    log Claimed(account=account, amount=amount, cumulative=cumulative, epoch=self.latest_epoch)
    return amount


@external
def set_oracles(oracles_: DynArray[address, MAX_ORACLES], threshold_: uint256):
    """
    @dev Replaces the oracle set; owner only (use a multisig or timelock as owner).
    """
    ownable._check_owner()
    for oracle: address in self.oracles:
        self.is_oracle[oracle] = False
    self._set_oracles(oracles_, threshold_)


@external
def pause():
    """
    @dev Stops postings and claims; owner only.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @dev Resumes postings and claims; owner only.
    """
    ownable._check_owner()
    pausable._unpause()


@internal
@view
def _epoch_cap(epoch: uint256) -> uint256:
    if epoch < first_epoch:
        return 0
    if decay_period_epochs == 0:
        return initial_epoch_cap
    periods: uint256 = (epoch - first_epoch) // decay_period_epochs
    cap: uint256 = initial_epoch_cap
    # Rounded up at each step, so the cap never falls below the exact geometric value.
    for _: uint256 in range(min(periods, _MAX_DECAYS), bound=_MAX_DECAYS):
        cap = (cap * decay_bps + _BPS - 1) // _BPS
        if cap == 0:
            break
    return cap


@internal
@view
def _epoch_digest(epoch: uint256, root: bytes32, manifest_hash: bytes32, emission: uint256) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(abi_encode(EPOCH_TYPEHASH, epoch, root, manifest_hash, emission))
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
