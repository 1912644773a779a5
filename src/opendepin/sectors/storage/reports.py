"""Report kinds of the storage sector and the texts clients sign.

- `storage.put`: a provider registers a piece it stores, with the client's signature over the piece's
  Merkle root, size and place in its segment (so a provider cannot register pieces nobody gave it);
- `storage.delete`: a provider drops a piece the client asked it to delete (client-signed);
- `storage.proof`: a provider's answer to an audit: the challenged leaf with its Merkle path and, when its
  segment's stripe is audited, the stripe's bytes; or `missing` (the provider says it lost the piece);
- `storage.ping`: a sign of life in an audit period in which the provider has nothing to answer;
- `storage.renew`: a provider keeps a piece longer: the client's signature over the piece's new expiry
  (`expiry_message`), sent once the client's renewal receipt is paid.

A put may name when the piece expires (`expires`, with the client's signature over `expiry_message`): at
that time the network drops it from the registry by itself (no more audits, no more byte-hours) and the
provider may delete it; 0 never expires. A put and a renewal name the byte-hours receipt that pays for them
(`receipt`): the network registers the piece only until the end of what that receipt pays (paid.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PUT = "storage.put"
DELETE = "storage.delete"
PROOF = "storage.proof"
PING = "storage.ping"
RENEW = "storage.renew"

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_PATH = 48
MAX_SIZE = 2**40


class PutPayload(BaseModel):
    """A piece a provider stores: piece number `piece` of segment `segment` coded k of n."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    segment: Hex32
    piece: Annotated[int, Field(ge=0, le=254)]
    k: Annotated[int, Field(ge=1, le=254)]
    n: Annotated[int, Field(ge=2, le=255)]
    size: Annotated[int, Field(ge=1, le=MAX_SIZE)]
    root: Hex32
    client: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
    client_sig: Annotated[bytes, Field(min_length=65, max_length=65)]
    expires: Annotated[int, Field(ge=0, le=2**40)] = 0
    """Unix time the piece expires at (0: never), with `expiry_sig`, the client's over `expiry_message`."""
    expiry_sig: Annotated[bytes, Field(max_length=65)] = b""
    receipt: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    """The id of the byte-hours receipt that pays for the piece (empty: none; the network then does not
    register it unless its rules need no receipt)."""


class RenewPayload(BaseModel):
    """A piece kept until a later `expires`, with the client's signature over `expiry_message`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    segment: Hex32
    piece: Annotated[int, Field(ge=0, le=254)]
    expires: Annotated[int, Field(ge=1, le=2**40)]
    expiry_sig: Annotated[bytes, Field(min_length=65, max_length=65)]
    receipt: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    """The id of the byte-hours receipt that pays for the hours from the current expiry to the new one."""


class DeletePayload(BaseModel):
    """A piece dropped at the client's request."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    segment: Hex32
    piece: Annotated[int, Field(ge=0, le=254)]
    client_sig: Annotated[bytes, Field(min_length=65, max_length=65)]


class ProofPayload(BaseModel):
    """An audit answer for one piece."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    challenge: Hex32
    segment: Hex32
    piece: Annotated[int, Field(ge=0, le=254)]
    missing: bool = False
    leaf: Annotated[int, Field(ge=0)] = 0
    data: Annotated[bytes, Field(max_length=65_536)] = b""
    path: Annotated[
        list[Annotated[bytes, Field(min_length=32, max_length=32)]], Field(max_length=MAX_PATH)
    ] = []
    stripe: Annotated[bytes, Field(max_length=4_096)] = b""


class PingPayload(BaseModel):
    """Online in this audit period (`challenge`), with nothing to answer."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    challenge: Hex32


def put_message(segment: str, piece: int, provider: str, root: str, size: int, k: int, n: int) -> str:
    """The text a client signs (EIP-191) to hand a piece to a provider."""
    return (
        f"opendepin storage put\nsegment: {segment}\npiece: {piece}\nprovider: {provider}\nroot: {root}\n"
        f"size: {size}\nk: {k}\nn: {n}"
    )


def delete_message(segment: str, piece: int, provider: str) -> str:
    """The text a client signs (EIP-191) to ask a provider to drop a piece."""
    return f"opendepin storage delete\nsegment: {segment}\npiece: {piece}\nprovider: {provider}"


def expiry_message(segment: str, piece: int, provider: str, expires: int) -> str:
    """The text a client signs (EIP-191) to have a provider keep a piece until `expires` (unix time): at a
    put with its first expiry, at each renewal with the later one."""
    return (
        f"opendepin storage expiry\nsegment: {segment}\npiece: {piece}\nprovider: {provider}\n"
        f"expires: {expires}"
    )


def piece_key(segment: str, piece: int) -> str:
    return f"{segment}:{piece}"


def stored_message(segment: str, piece: int, root: str, size: int, client: str) -> str:
    """The text a provider signs (its device key, over the UTF-8 bytes) when it has stored a piece: the
    client keeps it with the object's metadata as proof of what the provider took."""
    return (
        f"opendepin storage stored\nsegment: {segment}\npiece: {piece}\nroot: {root}\nsize: {size}\n"
        f"client: {client}"
    )
