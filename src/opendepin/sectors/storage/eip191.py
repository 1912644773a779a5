"""EIP-191 personal-message signatures with coincurve directly: the same bytes as
`opendepin.identity.wallets` (eth-account), without its per-call key setup. An epoch checks one client
signature per put, and a network registers millions of pieces.

Rule: hash = Keccak-256("\\x19Ethereum Signed Message:\\n" ‖ decimal byte length ‖ text); signature =
r ‖ s ‖ v with v = 27 + recovery id (0 and 1 are read as recovery ids too); the signer's address is the
checksummed last 20 bytes of Keccak-256 of the uncompressed public key.
"""

from __future__ import annotations

import coincurve
from eth_hash.auto import keccak
from eth_utils import to_checksum_address


def message_hash(text: str) -> bytes:
    data = text.encode()
    return bytes(keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data))


def sign_text(private_key: bytes, text: str) -> bytes:
    """65-byte signature, identical to `Wallet(private_key).sign_text(text)`."""
    signature = coincurve.PrivateKey(private_key).sign_recoverable(message_hash(text), hasher=None)
    return signature[:64] + bytes([signature[64] + 27])


def recover_signer(text: str, signature: bytes) -> str | None:
    """The checksummed address that signed `text`, or None for a malformed or invalid signature."""
    if len(signature) != 65:
        return None
    v = signature[64]
    recovery = v - 27 if v in (27, 28) else v if v in (0, 1) else None
    if recovery is None:
        return None
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([recovery]), message_hash(text), hasher=None
        )
    except Exception:  # coincurve raises several types for invalid points and signatures
        return None
    return str(to_checksum_address(keccak(public.format(compressed=False)[1:])[-20:]))
