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
    owner: IntArray, left: IntArray, right: IntArray, n_owners: int
) -> tuple[FloatArray, IntArray]:
    """Per owner: share of its devices' links whose other end has the same owner; and its device count."""
    same = owner[left] == owner[right]
    touched = np.concatenate([owner[left], owner[right]])
    internal = np.concatenate([same, same]).astype(np.float64)
    totals = np.bincount(touched, minlength=n_owners).astype(np.float64)
    inside = np.bincount(touched, weights=internal, minlength=n_owners)
    devices = np.bincount(owner, minlength=n_owners)
    return np.divide(inside, totals, out=np.zeros(n_owners), where=totals > 0), devices
