"""EIP-191 signatures through coincurve: the same bytes and signer as eth-account."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.wallets import Wallet, recover_text_signer
from opendepin.sectors.storage import eip191


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=32, max_size=32).filter(lambda b: 0 < int.from_bytes(b, "big") < 2**255), st.text())
def test_same_signature_and_signer_as_eth_account(secret: bytes, text: str) -> None:
    wallet = Wallet(secret)
    signature = eip191.sign_text(secret, text)
    assert signature == wallet.sign_text(text)
    assert eip191.recover_signer(text, signature) == wallet.address == recover_text_signer(text, signature)
    assert eip191.recover_signer(text + "x", signature) != wallet.address


def test_malformed_signatures_recover_nobody() -> None:
    assert eip191.recover_signer("t", b"\x00" * 65) is None
    assert eip191.recover_signer("t", b"\x01" * 64) is None
    sig = bytearray(eip191.sign_text(b"\x05" * 32, "t"))
    sig[64] = 29
    assert eip191.recover_signer("t", bytes(sig)) is None
