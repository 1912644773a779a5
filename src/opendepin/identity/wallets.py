"""Owner wallets: EVM keys (eth-account). Owners sign location assertions with EIP-191 messages."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_address, to_checksum_address


class WalletError(ValueError):
    """A malformed EVM address or signature."""


def normalize_address(address: str) -> str:
    """Checksummed 0x address; raises WalletError naming the bad value."""
    if not isinstance(address, str) or not is_address(address):
        raise WalletError(f"not an EVM address: {address!r}")
    return to_checksum_address(address)


class Wallet:
    """An owner's EVM key pair."""

    def __init__(self, private_key: bytes) -> None:
        self._account = Account.from_key(private_key)
        self.private_key = private_key

    @classmethod
    def generate(cls) -> Wallet:
        return cls(bytes(Account.create().key))

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_text(self, text: str) -> bytes:
        return bytes(self._account.sign_message(encode_defunct(text=text)).signature)


def recover_text_signer(text: str, signature: bytes) -> str | None:
    """Address that signed `text` (EIP-191 personal message), or None if the signature is malformed."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # eth-account raises several unrelated types for malformed signatures
        return None
