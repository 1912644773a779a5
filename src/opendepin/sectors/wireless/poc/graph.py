"""Witness-graph structure: closed communities dominated by few owners, owners witnessing themselves."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from opendepin.sectors.wireless.poc.evidence import BoolArray, FloatArray, IntArray
from opendepin.sectors.wireless.poc.params import TrustParams


def compute_components(size: int, left: IntArray, right: IntArray) -> IntArray:
    """Connected-component label of every node of an undirected graph: the smallest node of its component
    (scipy's connected components, each label replaced by its component's first node)."""
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.ones(len(left), dtype=np.int8)
    graph = coo_matrix((edges, (np.asarray(left), np.asarray(right))), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    return first.astype(np.int64)[labels]


def compute_community_flags(
    labels: IntArray, owner: IntArray, linked: np.ndarray, trust: TrustParams
) -> tuple[np.ndarray, FloatArray, IntArray]:
    """Hotspots of the ≤ `top` owners dominating a closed community (a component) of ≥ min size.

    Returns (flag, top owners' share of the device's community, community size) per device; hotspots
    of other owners in that community are not flagged (they merely live next to it).
    """
    n = len(labels)
    flags, shares, sizes = np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n, dtype=np.int64)
    members = np.flatnonzero(linked)
    if len(members) == 0:
        return flags, shares, sizes
    _, community = np.unique(labels[members], return_inverse=True)
    n_owners = int(owner.max()) + 1
    keys, key_index, key_counts = np.unique(
        community * n_owners + owner[members], return_inverse=True, return_counts=True
    )
    key_community = keys // n_owners
    order = np.lexsort((keys, -key_counts, key_community))
    first = np.searchsorted(key_community[order], key_community[order], side="left")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    top = rank < trust.community_top_owners
    community_size = np.bincount(community)
    top_count = np.bincount(key_community, weights=np.where(top, key_counts, 0))
    share = top_count / community_size
    dominated = (community_size >= trust.community_min_size) & (share >= trust.community_owner_share)
    flags[members] = dominated[community] & top[key_index]
    shares[members] = share[community]
    sizes[members] = community_size[community]
    return flags, shares, sizes


def compute_owner_partners(
    owner: IntArray, left: IntArray, right: IntArray, n_owners: int, min_devices: int
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Per owner: share of its links inside itself; share inside itself or its top partner owner; the
    partner (−1 if none holds ≥ `min_devices`); hotspots held by the owner."""
    a = np.concatenate([owner[left], owner[right]])
    b = np.concatenate([owner[right], owner[left]])
    totals = np.bincount(a, minlength=n_owners).astype(np.float64)
    same = a == b
    inside = np.bincount(a, weights=same.astype(np.float64), minlength=n_owners)
    devices = np.bincount(owner, minlength=n_owners)
    partner_links = np.zeros(n_owners)
    partner = np.full(n_owners, -1, dtype=np.int64)
    keys, counts = np.unique(a[~same] * n_owners + b[~same], return_counts=True)
    if len(keys):
        source, target = keys // n_owners, keys % n_owners
        order = np.lexsort((target, -counts, source))
        first = order[np.concatenate([[True], source[order][1:] != source[order][:-1]])]
        sizeable = devices[target[first]] >= min_devices
        partner_links[source[first]] = np.where(sizeable, counts[first], 0)
        partner[source[first]] = np.where(sizeable, target[first], -1)
    alone = np.divide(inside, totals, out=np.zeros(n_owners), where=totals > 0)
    paired = np.divide(inside + partner_links, totals, out=np.zeros(n_owners), where=totals > 0)
    return alone, paired, partner, devices


def compute_owner_group_flags(
    owner: IntArray, left: IntArray, right: IntArray, n_owners: int, trust: TrustParams
) -> tuple[BoolArray, FloatArray, IntArray]:
    """Owners whose hotspots mostly witness each other: alone with ≥ `owner_min_devices` hotspots, or
    with a partner wallet that chose them back and looks as inward; returns (flag, share, group size)."""
    alone, paired, partner, devices = compute_owner_partners(owner, left, right, n_owners, 3)
    threshold = trust.owner_internal_share
    safe = np.where(partner >= 0, partner, 0)
    mutual = (partner >= 0) & (partner[safe] == np.arange(n_owners)) & (paired[safe] >= threshold)
    group = np.where(mutual, devices + devices[safe], devices)
    share = np.where(mutual, paired, alone)
    big_enough = devices >= 3
    return big_enough & (group >= trust.owner_min_devices) & (share >= threshold), share, group
