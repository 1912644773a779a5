"""Witness-graph structure: closed communities dominated by few owners, owners witnessing themselves."""

from __future__ import annotations

import numpy as np

from opendepin.sectors.wireless.poc.evidence import FloatArray, IntArray
from opendepin.sectors.wireless.poc.params import TrustParams


def compute_components(size: int, left: IntArray, right: IntArray) -> IntArray:
    """Connected-component label of every node of an undirected graph (union–find, path halving)."""
    parent = list(range(size))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(node) for node in range(size)], dtype=np.int64)


def compute_top_owner_share(owners: IntArray, top: int) -> float:
    """Share of a community's devices held by its `top` largest owners."""
    counts = np.sort(np.bincount(owners))[::-1]
    return float(counts[:top].sum() / max(1, len(owners)))


def compute_community_flags(
    labels: IntArray, owner: IntArray, linked: np.ndarray, trust: TrustParams
) -> tuple[np.ndarray, FloatArray, IntArray]:
    """Devices in a closed community (a component) of ≥ min size dominated by ≤ `top` owners.

    Returns (flag, owner share of the device's community, community size) per device.
    """
    flags = np.zeros(len(labels), dtype=bool)
    shares = np.zeros(len(labels))
    sizes = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels[linked]):
        members = np.flatnonzero((labels == label) & linked)
        share = compute_top_owner_share(owner[members], trust.community_top_owners)
        shares[members] = share
        sizes[members] = len(members)
        if len(members) >= trust.community_min_size and share >= trust.community_owner_share:
            flags[members] = True
    return flags, shares, sizes


def compute_owner_internal_share(
    owner: IntArray, left: IntArray, right: IntArray, n_owners: int, min_devices: int = 3
) -> tuple[FloatArray, IntArray]:
    """Per owner of ≥ `min_devices` hotspots: share of its links that stay within itself or its closest
    partner owner (if that one also holds ≥ `min_devices`), and the hotspots the two hold together
    (a wallet, or two colluding wallets, witnessing themselves)."""
    a = np.concatenate([owner[left], owner[right]])
    b = np.concatenate([owner[right], owner[left]])
    totals = np.bincount(a, minlength=n_owners).astype(np.float64)
    same = a == b
    inside = np.bincount(a, weights=same.astype(np.float64), minlength=n_owners)
    devices = np.bincount(owner, minlength=n_owners)
    partner_links = np.zeros(n_owners)
    partner_devices = np.zeros(n_owners, dtype=np.int64)
    keys, counts = np.unique(a[~same] * n_owners + b[~same], return_counts=True)
    if len(keys):
        source, target = keys // n_owners, keys % n_owners
        order = np.lexsort((target, -counts, source))
        first = order[np.concatenate([[True], source[order][1:] != source[order][:-1]])]
        sizeable = devices[target[first]] >= min_devices
        partner_links[source[first]] = np.where(sizeable, counts[first], 0)
        partner_devices[source[first]] = np.where(sizeable, devices[target[first]], 0)
    share = np.divide(inside + partner_links, totals, out=np.zeros(n_owners), where=totals > 0)
    return np.where(devices >= min_devices, share, 0.0), devices + partner_devices
