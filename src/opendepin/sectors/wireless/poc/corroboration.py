"""Corroboration from anchors: a part of the witness graph that only vouches for itself is not paid in full.

Wallets, identities and locations cost nothing, so no rule may trust a hotspot because of who owns it or
how many others vouch for it. What costs something to fake is an *anchor*: a radio whose existence the
network knows by other means than the witness graph (here a maker-attested verifier, a network-operated
radio; see docs/wireless-poc.md, "Threat model"). The witness graph of the epoch's usable links (those
that passed the per-report rules and the link judgement) is cut into connected components, without
looking at owners. A component that holds an anchor is corroborated; one that holds none is not, and its
hotspots are paid `uncorroborated_share` of their units, however many members vouch for each other.

Everything here is exact: components are integers, the factor an integer in parts per million.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from opendepin.arrays import is_in, unique_sorted
from opendepin.sectors.base import DeviceNote
from opendepin.sectors.wireless.poc.evidence import BoolArray, FloatArray, IntArray
from opendepin.sectors.wireless.poc.graph import compute_components
from opendepin.sectors.wireless.poc.params import TrustParams

PPM = 1_000_000
UNCORROBORATED = "trust.uncorroborated"
"""Note on a hotspot whose witness-graph component holds no anchor (its pay is scaled, not blamed)."""


def is_anchor(attributes: Mapping[str, Any], maker: str, verifier_makers: Sequence[str]) -> bool:
    """A device is an anchor when its maker attests `verifier = true` and, if the network lists
    `verifier_makers`, that maker is one of them (compared case-insensitively)."""
    if attributes.get("verifier") is not True:
        return False
    return not verifier_makers or maker.lower() in {m.lower() for m in verifier_makers}


@dataclass(frozen=True, slots=True)
class Corroboration:
    """Per device: factor in ppm, its component's size, and whether it is corroborated (an anchor in its
    component this epoch, or remembered)."""

    factor_ppm: list[int]
    component_size: IntArray
    anchored: BoolArray
    applied: bool
    """False when the epoch has no anchor (every factor is then 1 000 000)."""
    fresh: BoolArray
    """Linked devices whose component holds an anchor this epoch (what restarts the memory)."""
    cut_off: BoolArray | None = None
    """Devices whose component holds an anchor but that a radio alone connecting them to it does not vouch
    for (`compute_cut_off`)."""


def compute_uncorroborated_ppm(share: float) -> int:
    """The share paid to uncorroborated hotspots in ppm: ⌊share × 10⁶⌋ with the share read as the decimal
    it spells (0.05 → 50 000)."""
    exact = Fraction(str(share))
    return exact.numerator * PPM // exact.denominator


def compute_cut_off(
    size: int,
    left: IntArray,
    right: IntArray,
    anchor: BoolArray,
    max_piece: int,
    onboarded: IntArray | None = None,
) -> BoolArray:
    """Hotspots that reach every anchor only through one radio and that radio does not vouch for.

    Corroboration must come over independent paths: one radio at the edge of honest coverage (a bridge)
    that links itself to a ring beyond could otherwise lend the ring its component's anchor, however many
    edges it forges (its edges are not independent: they all pass through it). For each cut vertex `c` (a
    radio whose removal splits its component; never an anchor: what it hears it vouches for itself),
    `behind(c)` is every hotspot it alone connects to the anchors (all the anchor-free pieces around it).
    `c` vouches for at most `max_piece` of them, the longest-standing: a hotspot's *arrival* behind `c` is
    the earliest onboarding time at which it was joined to `c` (over the paths from `c`, the latest
    `onboarded` on the path, the least of these), and `c` vouches for `h` iff at most `max_piece` radios
    behind `c` arrived no later than `h` (radios arriving at the same time are vouched for together or not
    at all, so ids never decide). A hotspot is cut off iff some cut vertex it lies behind does not vouch
    for it (nested cut vertices can only narrow what the outer one vouches for).

    Monotone where it matters: a radio onboarded after every other one that links itself anywhere arrives
    last behind every cut vertex, as does everything that reaches the anchors only through it, so it never
    takes the place of a radio that reaches an anchor without it. With `onboarded` None (or all equal) a
    cut vertex vouches for all of `behind(c)` or, beyond `max_piece`, for none. Exact: integer depth-first
    search (Tarjan's low-link) from each anchor in index order over the deduplicated undirected graph, then
    a bottleneck search (integer heap) from each cut vertex with more than `max_piece` hotspots behind it."""
    cut = np.zeros(size, dtype=bool)
    if size == 0 or len(left) == 0:
        return cut
    a, b = np.minimum(left, right), np.maximum(left, right)
    keys = unique_sorted((a * size + b)[a != b])
    a, b = keys // size, keys % size
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(size + 1)).tolist()
    neighbours = dst.tolist()
    is_anchor = anchor.tolist()
    since = [0] * size if onboarded is None else [int(t) for t in onboarded.tolist()]
    disc = [-1] * size
    low = [0] * size
    below = [1] * size
    anchors_below = [int(x) for x in is_anchor]
    visit: list[int] = []
    pieces: dict[int, list[tuple[int, int]]] = {}
    for root in np.flatnonzero(anchor).tolist():
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = len(visit)
        visit.append(root)
        stack = [(root, -1, start[root])]
        while stack:
            node, parent, at = stack[-1]
            if at < start[node + 1]:
                stack[-1] = (node, parent, at + 1)
                other = neighbours[at]
                if disc[other] < 0:
                    disc[other] = low[other] = len(visit)
                    visit.append(other)
                    stack.append((other, node, start[other]))
                elif other != parent:
                    low[node] = min(low[node], disc[other])
                continue
            stack.pop()
            if parent < 0:
                continue
            low[parent] = min(low[parent], low[node])
            below[parent] += below[node]
            anchors_below[parent] += anchors_below[node]
            if low[node] >= disc[parent] and not is_anchor[parent] and anchors_below[node] == 0:
                pieces.setdefault(parent, []).append((disc[node], disc[node] + below[node]))
    covered = [0] * (len(visit) + 1)
    vouched = [0] * size
    for bridge, ranges in sorted(pieces.items()):
        if sum(end - begin for begin, end in ranges) <= max_piece:
            continue
        for begin, end in ranges:
            covered[begin] += 1
            covered[end] -= 1
        vouched_for = _vouched_for(bridge, ranges, start, neighbours, disc, since, max_piece)
        for node in vouched_for:
            vouched[node] += 1
    running = 0
    for position, node in enumerate(visit):
        running += covered[position]
        cut[node] = running > vouched[node]
    return cut


def _vouched_for(
    bridge: int,
    ranges: list[tuple[int, int]],
    start: list[int],
    neighbours: list[int],
    disc: list[int],
    since: list[int],
    max_piece: int,
) -> list[int]:
    """The hotspots `bridge` vouches for among those behind it (`ranges`: its anchor-free pieces as
    positions in the depth-first visit): pop them by arrival (bottleneck search from the bridge, integer
    heap) until `max_piece` + 1 are out; those whose arrival is earlier than the next one's are vouched."""
    heap: list[tuple[int, int]] = []
    for at in range(start[bridge], start[bridge + 1]):
        other = neighbours[at]
        if any(begin <= disc[other] < end for begin, end in ranges):
            heapq.heappush(heap, (since[other], other))
    arrival: dict[int, int] = {}
    popped: list[int] = []
    while heap and len(popped) <= max_piece:
        when, node = heapq.heappop(heap)
        if node in arrival:
            continue
        arrival[node] = when
        popped.append(node)
        for at in range(start[node], start[node + 1]):
            other = neighbours[at]
            if other != bridge and other not in arrival:
                heapq.heappush(heap, (max(when, since[other]), other))
    if len(popped) <= max_piece:
        return popped
    last = arrival[popped[max_piece]]
    return [node for node in popped[:max_piece] if arrival[node] < last]


def compute_corroboration(
    size: int,
    left: IntArray,
    right: IntArray,
    anchor: BoolArray,
    trust: TrustParams,
    remembered: BoolArray | None = None,
    onboarded: IntArray | None = None,
) -> Corroboration:
    """Components of the usable witness graph (edges `left[i]`–`right[i]`, owners ignored); a linked device
    is corroborated iff its component holds an anchor and every radio that alone connects it to the anchors
    vouches for it (at most `corroboration_max_piece` hotspots each, the longest-standing by `onboarded`,
    the devices' onboarding times: `compute_cut_off`), or it was corroborated at the same cell within the
    last `corroboration_memory_epochs` (`remembered`). Unlinked devices earn no witness units anyway and
    keep factor 1. With no anchor in the epoch nothing is applied."""
    labels = compute_components(size, left, right)
    linked = np.zeros(size, dtype=bool)
    linked[left] = True
    linked[right] = True
    sizes = np.bincount(labels, minlength=size)[labels] if size else np.zeros(0, dtype=np.int64)
    anchored = is_in(labels, labels[anchor & linked]) if size else np.zeros(0, dtype=bool)
    cut_off = compute_cut_off(size, left, right, anchor & linked, trust.corroboration_max_piece, onboarded)
    anchored &= ~cut_off
    applied = bool(trust.corroboration and (anchor & linked).any())
    low = compute_uncorroborated_ppm(trust.uncorroborated_share)
    fresh = anchored & linked
    if remembered is not None:
        anchored = anchored | remembered
    factor = np.where(applied & linked & ~anchored, low, PPM).astype(np.int64)
    return Corroboration(
        [int(v) for v in factor.tolist()], sizes.astype(np.int64), anchored, applied, fresh, cut_off
    )


def build_corroboration_notes(ids: list[str], result: Corroboration) -> list[DeviceNote]:
    """One note per uncorroborated device with its component's size and the factor applied."""
    return [
        DeviceNote(
            device,
            UNCORROBORATED,
            {
                "component_size": int(result.component_size[k]),
                "anchors_in_component": 0,
                **(
                    {"cut_off_by_one_radio": True} if result.cut_off is not None and result.cut_off[k] else {}
                ),
                "factor_ppm": result.factor_ppm[k],
            },
        )
        for k, device in enumerate(ids)
        if result.factor_ppm[k] < PPM
    ]


def compute_anchor_evidence(
    beaconer: IntArray,
    witness: IntArray,
    surprise: FloatArray,
    anchor: BoolArray,
    size: int,
) -> tuple[FloatArray, FloatArray]:
    """Per device: Σ surprise of its links whose other end is an anchor, and the number of such links.

    Anchors do not lie about what they hear nor about where they stand, so their evidence is taken link by
    link (no vote, no median: wallets can add evidence, never out-vote it). Links between two anchors
    count for neither."""
    b_side = anchor[witness] & ~anchor[beaconer]
    w_side = anchor[beaconer] & ~anchor[witness]
    holder = np.concatenate([beaconer[b_side], witness[w_side]])
    values = np.concatenate([surprise[b_side], surprise[w_side]])
    return (
        np.bincount(holder, weights=values, minlength=size).astype(np.float64),
        np.bincount(holder, minlength=size).astype(np.float64),
    )


def compute_memory(fresh: BoolArray, left_before: IntArray, memory_epochs: int) -> IntArray:
    """Epochs of corroboration left per device: `memory_epochs` when corroborated afresh this epoch, else one
    fewer than before (never below 0). Carried in the trust state as `corroborated_left`."""
    return np.where(fresh, memory_epochs, np.maximum(left_before - 1, 0)).astype(np.int64)
