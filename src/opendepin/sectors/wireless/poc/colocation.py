"""Common-site test: could one owner's spread-out hotspots all be standing at a single place?

Per owner, every link its hotspots share with other owners is pooled. Two explanations are compared by
the robust fit cost of `trilateration` (Cauchy on log-distance residuals): each hotspot at its asserted
location, or all of them at one common point fitted to the pooled links. The likelihood gain
2·(cost at the assertions − cost at the common point) is near zero or negative for an honest owner whose
hotspots really stand apart, and large when the radio evidence puts a "spread" fleet in one building
(HIP-17 gaming). Pooling the owner's links decides where no single hotspot has enough links for its own
fit (rural clusters with few honest neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from opendepin import detmath
from opendepin.sectors.wireless.poc.evidence import BoolArray, DeviceTable, FloatArray, IntArray, LinkTable
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trilateration import (
    MIN_DISTANCE_M,
    Observations,
    compute_cauchy_cost,
    compute_cost,
    compute_heard_centroid,
    gather_link_ends,
    refine_positions,
)


@dataclass(frozen=True, slots=True)
class OwnerLinks:
    """Padded pooled links per candidate owner: the owner's own hotspot of each link, and observations."""

    owners: IntArray
    holder: IntArray
    obs: Observations


@dataclass(frozen=True, slots=True)
class CommonSite:
    """Per candidate owner: likelihood gain of one common point, links pooled, the point, its spread."""

    owners: IntArray
    gain: FloatArray
    links: IntArray
    point: FloatArray
    asserted_spread_m: FloatArray


def gather_owner_links(
    links: LinkTable, mask: BoolArray, devices: DeviceTable, owners: IntArray, trust: TrustParams
) -> OwnerLinks:
    """Both ends' links with other owners, pooled per candidate owner, strongest first, capped in count.

    Each link is weighted 1 / (links between that hotspot and that counterpart owner), as in the
    per-device fit, so one neighbouring wallet is one voice per hotspot.
    """
    owner = devices.owner
    n_owners = int(owner.max()) + 1 if len(owner) else 1
    both = gather_link_ends(links, mask, devices, trust)
    ends, others, logd, rssi, weight = both.ends, both.others, both.log_distance, both.rssi_dbm, both.weight
    slot = np.full(n_owners, -1, dtype=np.int64)
    slot[owners] = np.arange(len(owners))
    row = slot[owner[ends]]
    take = row >= 0
    row, ends, others, logd, weight = row[take], ends[take], others[take], logd[take], weight[take]
    order = np.lexsort((-rssi[take], row))
    row, ends, others, logd, weight = row[order], ends[order], others[order], logd[order], weight[order]
    counts = np.bincount(row, minlength=len(owners))
    rank = np.arange(len(row)) - np.concatenate([[0], np.cumsum(counts)[:-1]])[row]
    width = max(1, min(trust.common_site_max_links, int(counts.max()) if len(counts) else 1))
    take = rank < width
    points = np.zeros((len(owners), width, 2))
    log_distance = np.zeros((len(owners), width))
    weights = np.zeros((len(owners), width))
    holder = np.zeros((len(owners), width), dtype=np.int64)
    points[row[take], rank[take]] = devices.xy[others[take]]
    log_distance[row[take], rank[take]] = logd[take]
    weights[row[take], rank[take]] = weight[take]
    holder[row[take], rank[take]] = ends[take]
    return OwnerLinks(owners, holder, Observations(points, log_distance, weights))


def compute_owner_centres(devices: DeviceTable) -> tuple[FloatArray, FloatArray]:
    """Per owner: centroid of its asserted locations and their RMS distance to it (asserted spread)."""
    n_owners = int(devices.owner.max()) + 1 if devices.size else 1
    counts = np.maximum(np.bincount(devices.owner, minlength=n_owners), 1).astype(np.float64)
    centre = np.stack(
        [np.bincount(devices.owner, weights=devices.xy[:, k], minlength=n_owners) / counts for k in (0, 1)], 1
    )
    dx = devices.xy[:, 0] - centre[devices.owner, 0]
    dy = devices.xy[:, 1] - centre[devices.owner, 1]
    squared = dx * dx + dy * dy
    return centre, np.sqrt(np.bincount(devices.owner, weights=squared, minlength=n_owners) / counts)


def compute_cost_at_assertions(xy: FloatArray, pooled: OwnerLinks, sigma: float) -> FloatArray:
    """Robust cost of the pooled links with every hotspot at its own asserted location."""
    dx = xy[pooled.holder, 0] - pooled.obs.points[:, :, 0]
    dy = xy[pooled.holder, 1] - pooled.obs.points[:, :, 1]
    squared = np.maximum(dx * dx + dy * dy, MIN_DISTANCE_M * MIN_DISTANCE_M)
    residual = 0.5 * detmath.log10(squared) - pooled.obs.log_distance
    return compute_cauchy_cost(residual, pooled.obs.weight, sigma)


def fit_common_site(
    links: LinkTable, mask: BoolArray, devices: DeviceTable, owners: IntArray, trust: TrustParams
) -> CommonSite:
    """Best single point for each candidate owner's pooled links, and its gain over the assertions."""
    pooled = gather_owner_links(links, mask, devices, owners, trust)
    sigma = trust.shadowing_sigma_db / (10 * trust.path_loss_exponent)
    obs = pooled.obs
    used = (obs.weight > 0).sum(axis=1)
    centre, spread = compute_owner_centres(devices)
    asserted_centre = centre[owners]
    heard_centre = compute_heard_centroid(obs, asserted_centre)
    candidates = [refine_positions(asserted_centre, obs, sigma), refine_positions(heard_centre, obs, sigma)]
    costs = np.stack([compute_cost(c, obs, sigma) for c in candidates])
    point = np.where((costs[0] <= costs[1])[:, None], candidates[0], candidates[1])
    gain = 2 * (compute_cost_at_assertions(devices.xy, pooled, sigma) - costs.min(axis=0))
    return CommonSite(owners, gain, used.astype(np.int64), point, spread[owners])


@dataclass(frozen=True, slots=True)
class GroupAssertions:
    """Per device of a co-located group: the likelihood gain of the best member's assertion over its own
    (0 for the member whose assertion explains the group's links best), and the links pooled."""

    gain: FloatArray
    links: IntArray


def compare_group_assertions(
    links: LinkTable, mask: BoolArray, devices: DeviceTable, labels: IntArray, trust: TrustParams
) -> GroupAssertions:
    """Which member of a group of radios standing together (`labels`: one label per group, groups of one
    ignored) asserts where they stand? Wallets play no part: the links of every member with devices
    outside the group are pooled (one voice per hotspot and counterpart device), and the robust fit cost
    of the pooled links is computed with the whole group at each member's asserted location. A member's
    gain is 2·(cost at its own assertion − the least cost over the members' assertions): near zero for the
    member standing where it says, large for one asserting a spot the group's neighbours do not hear it
    from, however few metres or hexes away that spot is."""
    gain = np.zeros(devices.size)
    pooled_links = np.zeros(devices.size, dtype=np.int64)
    sizes = np.bincount(labels, minlength=devices.size)
    members = np.flatnonzero(sizes[labels] >= 2)
    if len(members) == 0:
        return GroupAssertions(gain, pooled_links)
    grouped = replace(devices, owner=labels.astype(np.int64))
    groups = np.unique(labels[members])
    pooled = gather_owner_links(links, mask, grouped, groups, trust)
    sigma = trust.shadowing_sigma_db / (10 * trust.path_loss_exponent)
    slot = np.searchsorted(groups, labels[members])
    obs = pooled.obs
    rows = Observations(obs.points[slot], obs.log_distance[slot], obs.weight[slot])
    cost = compute_cost(devices.xy[members], rows, sigma)
    best = np.full(len(groups), np.inf)
    np.minimum.at(best, slot, cost)
    gain[members] = 2 * (cost - best[slot])
    pooled_links[members] = (obs.weight[slot] > 0).sum(axis=1)
    return GroupAssertions(gain, pooled_links)
