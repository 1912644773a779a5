"""The simulated storage world: providers with real bytes, clients that place erasure-coded segments.

Model (docs/storage.md, "Adversaries and what catches them"): each client segment is k blocks of seeded
random bytes, coded k of n with zfec into n pieces of 2–8 KiB; a client places a segment's pieces on n
distinct network prefixes (one piece per /24), choosing prefixes uniformly and, within a prefix, an identity
uniformly; it signs each put with its EVM key. Providers keep every piece's bytes and Merkle tree in memory.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import zfec

from opendepin.identity.wallets import Wallet
from opendepin.sectors.storage import eip191, merkle
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import put_message

HONEST = "honest"


@dataclass
class SimPiece:
    """A piece as its provider keeps it: bytes (possibly rotted) and the tree of the bytes it was given."""

    segment: str
    index: int
    data: bytes
    levels: list[list[bytes]]
    root: str
    k: int
    n: int
    client: str


@dataclass
class SimProvider:
    """A simulated provider identity."""

    index: int
    device_id: str
    owner: str
    prefix: str
    behaviour: str
    group: int
    pieces: dict[str, SimPiece] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    """pieces it no longer has (deleted, or never kept: outsourcer)"""
    rotted: set[str] = field(default_factory=set)


@dataclass
class SimClient:
    wallet: Wallet
    address: str


def compute_device_id(seed: int, index: int) -> str:
    """A stand-in ed25519 device id (the simulator signs no reports: they go straight to the epoch)."""
    return "ed25519:" + hashlib.sha256(f"storage-sim:{seed}:device:{index}".encode()).hexdigest()


def compute_owner(seed: int, index: int) -> str:
    return Wallet(hashlib.sha256(f"storage-sim:{seed}:owner:{index}".encode()).digest()).address


def build_segment(rng: random.Random, params: StorageParams, piece_size: int) -> tuple[str, list[bytes]]:
    """A segment id and its n pieces (zfec, k of n; the data is seeded random bytes)."""
    blocks = [rng.randbytes(piece_size) for _ in range(params.k)]
    pieces = [bytes(p) for p in zfec.Encoder(params.k, params.n).encode(blocks)]
    segment = hashlib.sha256(b"".join(blocks)).hexdigest()
    return segment, pieces


def make_piece(segment: str, index: int, data: bytes, params: StorageParams, client: str) -> SimPiece:
    levels = merkle.build_levels(
        [merkle.hash_leaf(leaf) for leaf in merkle.iter_leaves(data, params.leaf_size)]
    )
    return SimPiece(segment, index, data, levels, levels[-1][0].hex(), params.k, params.n, client)


def sign_put(client: SimClient, provider: SimProvider, piece: SimPiece) -> bytes:
    text = put_message(
        piece.segment, piece.index, provider.device_id, piece.root, len(piece.data), piece.k, piece.n
    )
    return eip191.sign_text(client.wallet.private_key, text)


def place_segments(
    providers: list[SimProvider],
    clients: list[SimClient],
    segments: int,
    params: StorageParams,
    rng: random.Random,
) -> list[tuple[SimProvider, SimPiece]]:
    """Honest clients' placements: each segment on n distinct prefixes, one identity per prefix."""
    by_prefix: dict[str, list[SimProvider]] = {}
    for provider in providers:
        by_prefix.setdefault(provider.prefix, []).append(provider)
    prefixes = sorted(by_prefix)
    placed = []
    for s in range(segments):
        client = clients[s % len(clients)]
        segment, datas = build_segment(rng, params, rng.choice((2_048, 4_096, 6_144, 8_192)))
        for index, prefix in enumerate(rng.sample(prefixes, params.n)):
            provider = rng.choice(by_prefix[prefix])
            piece = make_piece(segment, index, datas[index], params, client.address)
            provider.pieces[f"{segment}:{index}"] = piece
            placed.append((provider, piece))
    return placed
