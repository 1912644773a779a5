"""Named storage scenarios: an honest fleet plus one kind of adversary (or all of them: `mixed`)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from opendepin.identity.wallets import Wallet
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.sim.behaviour import ADVERSARIES, SYBIL
from opendepin.sectors.storage.sim.world import (
    HONEST,
    SimClient,
    SimPiece,
    SimProvider,
    build_segment,
    compute_device_id,
    compute_owner,
    make_piece,
    place_segments,
)

SCENARIOS = ("honest", *ADVERSARIES, "mixed")
SYBIL_GROUP = 15
PIECES_PER_PROVIDER = 16
CLIENTS = 8
SELF_DEALT_SEGMENTS = 4
"""Segments a sybil group's own client tries to put entirely on the group (all but one piece refused)."""


@dataclass
class World:
    providers: list[SimProvider]
    clients: list[SimClient]
    puts: list[tuple[SimProvider, SimPiece, SimClient]] = field(default_factory=list)


def prefix_of(index: int) -> str:
    return f"100.{64 + index // 256}.{index % 256}.0/24"


def behaviours_for(scenario: str, devices: int, share: float, rng: random.Random) -> list[str]:
    """Each identity's behaviour: adversaries are `share` of the identities, spread at random."""
    count = 0 if scenario == "honest" else max(1, round(share * devices))
    kinds = list(ADVERSARIES) if scenario == "mixed" else [scenario]
    labels = [kinds[i % len(kinds)] for i in range(count)] + [HONEST] * (devices - count)
    rng.shuffle(labels)
    return labels


def build_world(
    scenario: str, devices: int, seed: int, share: float, params: StorageParams, rng: random.Random
) -> World:
    """Providers (sybils grouped on shared prefixes), clients, and the pieces placed on them."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {SCENARIOS}")
    labels = behaviours_for(scenario, devices, share, rng)
    providers, prefix_index, sybils = [], 0, 0
    for index, behaviour in enumerate(labels):
        if behaviour == SYBIL:
            group = sybils // SYBIL_GROUP
            prefix = f"198.18.{group}.0/24"
            sybils += 1
        else:
            group, prefix = -1, prefix_of(prefix_index)
            prefix_index += 1
        providers.append(
            SimProvider(
                index, compute_device_id(seed, index), compute_owner(seed, index), prefix, behaviour, group
            )
        )
    clients = [
        SimClient(w, w.address)
        for w in (
            Wallet(hashlib.sha256(f"storage-sim:{seed}:client:{i}".encode()).digest()) for i in range(CLIENTS)
        )
    ]
    prefixes = len({p.prefix for p in providers})
    segments = max(1, PIECES_PER_PROVIDER * prefixes // params.n)
    world = World(providers, clients)
    for provider, piece in place_segments(providers, clients, segments, params, rng):
        world.puts.append((provider, piece, clients[[c.address for c in clients].index(piece.client)]))
    add_self_dealing(world, params, rng, seed)
    return world


def add_self_dealing(world: World, params: StorageParams, rng: random.Random, seed: int) -> None:
    """Each sybil group's own client puts whole segments on the group's identities (one /24)."""
    groups: dict[int, list[SimProvider]] = {}
    for provider in world.providers:
        if provider.behaviour == SYBIL:
            groups.setdefault(provider.group, []).append(provider)
    for group, members in sorted(groups.items()):
        wallet = Wallet(hashlib.sha256(f"storage-sim:{seed}:sybil-client:{group}".encode()).digest())
        client = SimClient(wallet, wallet.address)
        world.clients.append(client)
        for _ in range(SELF_DEALT_SEGMENTS):
            segment, datas = build_segment(rng, params, 2_048)
            for index in range(params.n):
                provider = members[index % len(members)]
                piece = make_piece(segment, index, datas[index], params, client.address)
                provider.pieces[f"{segment}:{index}"] = piece
                world.puts.append((provider, piece, client))
