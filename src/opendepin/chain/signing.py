"""EIP-712 messages signed off chain: maker onboarding attestations and oracle epoch postings.

Digests are computed in Python exactly as the contracts compute them (snekmate's
`eip712_domain_separator`), so a signature made here verifies on chain. Oracles sign (chain id,
distributor, epoch, root, manifest hash, running total): a signature fits one point of the epoch sequence
only. A maker signs (registry, device key, owner, H3 cell): everything the registry stores for a device.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from opendepin.chain.keys import PrivateKey

REGISTRY_DOMAIN = ("OpenDePIN DeviceRegistry", "1")
DISTRIBUTOR_DOMAIN = ("OpenDePIN RewardsDistributor", "1")
"""(name, version) of the EIP-712 domains (the registry uses its ERC-721 module's domain)."""

_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
ONBOARD_TYPEHASH = keccak(text="Onboard(bytes32 deviceKey,address owner,uint64 h3Cell)")
EPOCH_TYPEHASH = keccak(text="EpochRoot(uint256 epoch,bytes32 root,bytes32 manifestHash,uint256 total)")


def compute_domain_separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    """EIP-712 domain separator of `contract` on `chain_id`."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text=name),
                keccak(text=version),
                chain_id,
                to_checksum_address(contract),
            ],
        )
    )


def compute_typed_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """keccak256(0x1901 ‖ domain separator ‖ struct hash)."""
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


def compute_onboard_digest(
    chain_id: int, registry: str, device_key: bytes, owner: str, h3_cell: int
) -> bytes:
    """The digest a maker signs to onboard `device_key` (32 bytes) for `owner` at `h3_cell` (0: none)."""
    if len(device_key) != 32:
        raise ValueError(f"device key must be 32 bytes, got {len(device_key)}")
    struct = keccak(
        abi_encode(
            ["bytes32", "bytes32", "address", "uint64"], [ONBOARD_TYPEHASH, device_key, owner, h3_cell]
        )
    )
    return compute_typed_digest(compute_domain_separator(*REGISTRY_DOMAIN, chain_id, registry), struct)


def compute_epoch_digest(
    chain_id: int, distributor: str, epoch: int, root: bytes, manifest_hash: bytes, total: int
) -> bytes:
    """The digest every oracle signs to post epoch `epoch` whose root pays a running `total`."""
    struct = keccak(
        abi_encode(
            ["bytes32", "uint256", "bytes32", "bytes32", "uint256"],
            [EPOCH_TYPEHASH, epoch, root, manifest_hash, total],
        )
    )
    return compute_typed_digest(compute_domain_separator(*DISTRIBUTOR_DOMAIN, chain_id, distributor), struct)


def sign_digest(private_key: PrivateKey, digest: bytes) -> bytes:
    """A 65-byte (r ‖ s ‖ v) secp256k1 signature of `digest` (no message prefix)."""
    signed = Account.unsafe_sign_hash(digest, private_key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def address_of(private_key: PrivateKey) -> str:
    """Checksummed address of a private key."""
    return str(Account.from_key(private_key).address)


def sign_epoch(
    oracle_keys: Sequence[PrivateKey],
    chain_id: int,
    distributor: str,
    epoch: int,
    root: bytes,
    manifest_hash: bytes,
    total: int,
) -> list[bytes]:
    """Signatures of all `oracle_keys`, ordered by ascending signer address as the contract requires."""
    digest = compute_epoch_digest(chain_id, distributor, epoch, root, manifest_hash, total)
    ordered = sorted(oracle_keys, key=lambda key: int(address_of(key), 16))
    return [sign_digest(key, digest) for key in ordered]


def order_signatures(signatures: Sequence[bytes], digest: bytes) -> list[bytes]:
    """Order signatures by ascending recovered signer (signatures gathered from several oracles)."""
    return sorted(signatures, key=lambda sig: int(Account._recover_hash(digest, signature=sig), 16))
