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

from dataclasses import dataclass

import numpy as np

from opendepin import detmath
from opendepin.arrays import is_in, unique_sorted
from opendepin.sectors.wireless.poc.evidence import (
    BeaconTable,
    BoolArray,
    DeviceTable,
    FloatArray,
    IntArray,
    LinkTable,
)
from opendepin.sectors.wireless.poc.geo import compute_plane_distances, pairs_near
from opendepin.sectors.wireless.poc.linkmodel import (
    compute_expected_rssi_dbm,
    compute_hear_probability,
    compute_heard_nll,
    compute_range_m,
)
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
    (0 for the member whose assertion explains the group's links best), the (member, outsider) links
    pooled, and the distance from its assertion to the best member's."""

    gain: FloatArray
    links: IntArray
    to_best_m: FloatArray
    own_gain: FloatArray
    """The same comparison on the member's own beacons alone (its pairs at its assertion against at the
    best member's): positive when its own evidence, too, puts it where the group is heard."""
    best: IntArray
    """The member whose assertion explains the group's evidence best (ties: the lowest index); −1 outside
    groups."""


def compare_group_assertions(
    links: LinkTable,
    mask: BoolArray,
    devices: DeviceTable,
    labels: IntArray,
    trust: TrustParams,
    beacons: BeaconTable | None = None,
) -> GroupAssertions:
    """Which member of a group of radios standing together (`labels`: one label per group, groups of one
    ignored) asserts where they stand? Wallets play no part.

    The evidence is what radios *outside* the group made of the members' beacons: for every member that
    beaconed and every outsider that could have heard it (eligible, within the range where the model gives
    `displaced_min_hear_probability` at any member's assertion, or that did hear it), one (member,
    outsider) pair: heard with a usable RSSI (averaged over the epoch's beacons: fading averages out,
    shadowing is the link's own), heard without one, or never heard. A member's own witness reports are
    left out: a spoofer may report any RSSI it likes for the beacons it hears, but cannot choose how loud
    its own transmissions reach others, nor who hears them. Every member's assertion is a hypothesis for
    where the whole group stands; its cost is the pairs' summed negative log-likelihood there (½·z² for
    a heard RSSI, −ln P(heard) for a report without one, −ln P(not heard) for silence; each pair capped at
    `displaced_link_cap`, so one neighbour lying about where it stands weighs little). A member's gain is
    2·(cost at its own assertion − the least cost over the members'): twice the log-likelihood ratio of two
    simple hypotheses, so a true assertion is beaten by a gain of g or more with probability at most
    e^(−g/2) under the model, however many pairs; large for a member asserting a spot the group's
    neighbours do not hear it from, however few metres or hexes away that spot is. Without `beacons`
    only the heard RSSIs count (conditioned on being heard, `compute_heard_nll`)."""
    size = devices.size
    gain = np.zeros(size)
    pooled = np.zeros(size, dtype=np.int64)
    to_best = np.zeros(size)
    own_gain = np.zeros(size)
    group_size = np.bincount(labels, minlength=size)[labels] if size else np.zeros(0, dtype=np.int64)
    grouped = group_size >= 2
    members = np.flatnonzero(grouped)
    if len(members) == 0:
        return GroupAssertions(gain, pooled, to_best, own_gain, np.full(size, -1, dtype=np.int64))
    b, w = links.beaconer, links.witness
    heard_rows = mask & grouped[b] & (labels[b] != labels[w])
    keys, inverse = np.unique(b[heard_rows] * size + w[heard_rows], return_inverse=True)
    count = np.maximum(np.bincount(inverse, minlength=len(keys)), 1).astype(np.float64)
    key_rssi = np.bincount(inverse, weights=links.rssi_dbm[heard_rows], minlength=len(keys)) / count
    key_tx = np.bincount(inverse, weights=links.tx_power_dbm[heard_rows], minlength=len(keys)) / count
    if beacons is None:
        pair_keys, status = keys, np.zeros(len(keys), dtype=np.int64)
        rssi, tx = key_rssi, key_tx
    else:
        pair_keys, status, rssi, tx = gather_group_pairs(
            devices, labels, grouped, beacons, trust, keys, key_rssi, key_tx
        )
    member, outsider = pair_keys // size, pair_keys % size
    order = np.lexsort((pair_keys, labels[member]))
    member, outsider, status, rssi, tx = member[order], outsider[order], status[order], rssi[order], tx[order]
    starts = np.searchsorted(labels[member], np.arange(size + 1))
    first, per_member = starts[labels[members]], starts[labels[members] + 1] - starts[labels[members]]
    hypothesis = np.repeat(np.arange(len(members)), per_member)
    offsets = np.arange(int(per_member.sum())) - np.repeat(np.cumsum(per_member) - per_member, per_member)
    pair = np.repeat(first, per_member) + offsets
    distance = compute_plane_distances(devices.xy[members[hypothesis]], devices.xy[outsider[pair]])
    gains = devices.gain_dbi[member[pair]] + devices.gain_dbi[outsider[pair]]
    expected = compute_expected_rssi_dbm(tx[pair], gains, distance, trust)
    if beacons is None:
        nll = compute_heard_nll(rssi[pair], expected, trust, trust.displaced_link_cap)
    else:
        nll = compute_pair_nll(status[pair], rssi[pair], expected, trust)
    cost = np.bincount(hypothesis, weights=nll, minlength=len(members))
    best = np.full(size, np.inf)
    np.minimum.at(best, labels[members], cost)
    winner = np.full(size, size, dtype=np.int64)
    np.minimum.at(winner, labels[members], np.where(cost <= best[labels[members]], members, size))
    gain[members] = 2 * (cost - best[labels[members]])
    pooled[members] = np.bincount(labels[member[status == HEARD_RSSI]], minlength=size)[labels[members]]
    to_best[members] = compute_plane_distances(devices.xy[members], devices.xy[winner[labels[members]]])
    slot = np.full(size, -1, dtype=np.int64)
    slot[members] = np.arange(len(members))
    sender, assumed = member[pair], members[hypothesis]
    mine = assumed == sender
    best_spot = assumed == winner[labels[sender]]
    at_own = np.bincount(slot[sender[mine]], weights=nll[mine], minlength=len(members))
    at_best = np.bincount(slot[sender[best_spot]], weights=nll[best_spot], minlength=len(members))
    own_gain[members] = 2 * (at_own - at_best)
    best_member = np.full(size, -1, dtype=np.int64)
    best_member[members] = winner[labels[members]]
    return GroupAssertions(gain, pooled, to_best, own_gain, best_member)


HEARD_RSSI, HEARD, SILENT = 0, 1, 2
"""A (member, outsider) pair: heard with a usable RSSI, reported heard without one, never heard."""


def gather_group_pairs(
    devices: DeviceTable,
    labels: IntArray,
    grouped: BoolArray,
    beacons: BeaconTable,
    trust: TrustParams,
    keys: IntArray,
    key_rssi: FloatArray,
    key_tx: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Every (beaconing member, outsider of its group) pair worth judging, as sorted keys member × size +
    outsider, with its status, mean RSSI (HEARD_RSSI pairs) and the member's mean tx power.

    Outsiders of a group: eligible devices within the range where the model gives
    `displaced_min_hear_probability` (the loudest gains) of any member's assertion, and every device that
    reported hearing a member's beacon."""
    size = devices.size
    beaconer = beacons.beaconer
    sent = np.bincount(beaconer, minlength=size).astype(np.float64)
    member_tx = np.bincount(beaconer, weights=beacons.tx_power_dbm, minlength=size) / np.maximum(sent, 1.0)
    reported = unique_sorted(beaconer[beacons.reported_pairs // size] * size + beacons.reported_pairs % size)
    reported = reported[grouped[reported // size] & (labels[reported // size] != labels[reported % size])]
    members = np.flatnonzero(grouped)
    radius = compute_outsider_radius_m(devices, beacons, trust)
    near_member, near = pairs_near(devices.xy[members], devices.xy, radius)
    near_member = members[near_member]
    keep = devices.eligible[near] & (labels[near] != labels[near_member])
    group_outsiders = unique_sorted(
        np.concatenate(
            [
                labels[near_member[keep]] * size + near[keep],
                labels[reported // size] * size + reported % size,
            ]
        )
    )
    senders = members[sent[members] > 0]
    order = np.argsort(labels[senders], kind="stable")
    senders = senders[order]
    outsider_group = group_outsiders // size
    lo = np.searchsorted(labels[senders], outsider_group, side="left")
    counts = np.searchsorted(labels[senders], outsider_group, side="right") - lo
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_member = senders[np.repeat(lo, counts) + offsets]
    pair_keys = unique_sorted(pair_member * size + np.repeat(group_outsiders % size, counts))
    position = np.searchsorted(keys, pair_keys)
    found = position < len(keys)
    found[found] = keys[position[found]] == pair_keys[found]
    status = np.where(found, HEARD_RSSI, np.where(is_in(pair_keys, reported), HEARD, SILENT))
    safe = np.minimum(position, max(len(keys) - 1, 0))
    rssi = np.where(found, key_rssi[safe] if len(keys) else 0.0, 0.0)
    tx = np.where(found, key_tx[safe] if len(keys) else 0.0, member_tx[pair_keys // size])
    return pair_keys, status.astype(np.int64), rssi, tx


def compute_pair_nll(
    status: IntArray, rssi_dbm: FloatArray, expected_rssi_dbm: FloatArray, trust: TrustParams
) -> FloatArray:
    """Negative log-likelihood of what an outsider made of a member's beacons with the member at the
    hypothesised spot: ½·z² for a heard RSSI (z in shadowing σ), −ln P(heard) for a report without a usable
    RSSI, −ln P(not heard) for silence; capped at `displaced_link_cap`."""
    z = (rssi_dbm - expected_rssi_dbm) / trust.shadowing_sigma_db
    heard = compute_hear_probability(expected_rssi_dbm, trust)
    floor = 1e-300
    nll = np.where(
        status == HEARD_RSSI,
        0.5 * z * z,
        np.where(
            status == HEARD,
            -detmath.log(np.maximum(heard, floor)),
            -detmath.log(np.maximum(1.0 - heard, floor)),
        ),
    )
    return np.minimum(nll, trust.displaced_link_cap)


def compute_coverage_shares(
    labels: IntArray, contender: BoolArray, cleared: BoolArray | None = None
) -> IntArray:
    """The rule *radios standing together provide one place's coverage; where the evidence cannot say
    whose assertion is true, the assertions it leaves possible share it*. Each of the k `contender`s of a
    group (see `trust.find_contenders`: the best member and the members asserting farther from it than the
    group's receptions allow, not judged to nothing) is paid 1/k of its units (exact: the returned k
    divides the hex scale); everyone else 1 (k = 1). A contender `cleared` by its own beacons (they favour
    its own assertion over the best member's by `displaced_full_gain` or more: its own evidence says it
    stands where it says) counts among the k but keeps its pay.

    A spoofer standing by an honest radio that the outsiders' evidence does not judge (a tie: few
    outsiders, or both spots about as far from each of them) is then paid half of one hotspot instead of
    a whole second one, and so is its honest neighbour: in a tie the network cannot tell them apart, and
    it pays the pair once. Members consistent with the best one (tenants of one building) are not
    contenders and keep their pay. Wallets and device ids play no part."""
    size = len(labels)
    count = np.bincount(labels[contender], minlength=size)
    shares = np.ones(size, dtype=np.int64)
    member = contender & (count[labels] >= 2)
    shares[member] = count[labels[member]]
    if cleared is not None:
        shares[member & cleared] = 1
    return shares


def locate_against_spots(
    links: LinkTable,
    mask: BoolArray,
    devices: DeviceTable,
    candidate: BoolArray,
    spot_xy: FloatArray | list[FloatArray],
    trust: TrustParams,
    beacons: BeaconTable | None = None,
) -> tuple[FloatArray, IntArray, IntArray]:
    """The rule *a radio is where the outsiders hear it from*, for one radio alone: each `candidate`'s
    assertion against other spots (`spot_xy`, one array or several, e.g. where trilateration puts it),
    scored exactly as `compare_group_assertions` scores a group's assertions, by what every *other* radio
    made of its beacons (heard RSSI, heard without one, silence of an eligible radio in range; its own
    witness reports left out, each pair capped at `displaced_link_cap`). The spot is a hypothesis standing
    for a second member at that place that beacons nothing and hears nothing, so only the candidate's own
    beacons decide. Wallets play no part; neither does who proposes the spot (a wrong spot only costs the
    test power: the assertion is never scored against anything but what outsiders heard).

    Returns per device the gain 2·(cost at the assertion − least of the costs), ≥ 0 (0: the assertion
    explains the outsiders at least as well as every spot, or not a candidate), the pairs heard with an
    RSSI, and which hypothesis explains the outsiders best: −1 the assertion (also on a tie with a spot, and
    outside the candidates), k the k-th spot array (on a tie between spots, the first). Each candidate's
    figures read its own beacons, its hypotheses and the outsiders alone, so judging some candidates gives
    them the same bits as judging all."""
    size = devices.size
    spots = [spot_xy] if isinstance(spot_xy, np.ndarray) else list(spot_xy)
    index = np.flatnonzero(candidate)
    winner = np.full(size, -1, dtype=np.int64)
    if len(index) == 0 or not spots:
        return np.zeros(size), np.zeros(size, dtype=np.int64), winner
    total = size + len(index) * len(spots)
    labels = np.arange(total, dtype=np.int64)
    labels[size:] = np.tile(index, len(spots))
    eligible = np.concatenate([devices.eligible, np.zeros(total - size, dtype=bool)])
    augmented = DeviceTable(
        [*devices.ids, *(f"{devices.ids[i]}@spot{k}" for k in range(len(spots)) for i in index.tolist())],
        np.concatenate([devices.owner, np.tile(devices.owner[index], len(spots))]),
        np.concatenate([devices.xy, *(spot[index] for spot in spots)]),
        np.concatenate([devices.gain_dbi, np.tile(devices.gain_dbi[index], len(spots))]),
        eligible,
    )
    moved_beacons = None
    if beacons is not None:
        pairs = beacons.reported_pairs
        moved_beacons = BeaconTable(
            beacons.beaconer, beacons.tx_power_dbm, (pairs // size) * total + pairs % size
        )
    compared = compare_group_assertions(links, mask, augmented, labels, trust, moved_beacons)
    best = compared.best[index]
    winner[index] = np.where(best >= size, (best - size) // len(index), -1)
    return compared.gain[:size], compared.links[:size], winner


def compute_outsider_radius_m(devices: DeviceTable, beacons: BeaconTable | None, trust: TrustParams) -> float:
    """How far from any of a radio's hypothesised spots an eligible outsider is read (for its silence) by
    `compare_group_assertions`: the range where the model gives `displaced_min_hear_probability` at the
    loudest tx power and gains (inf without beacons: then only receptions are read, wherever they are)."""
    if beacons is None:
        return float("inf")
    return compute_range_m(
        float(beacons.tx_power_dbm.max()) if len(beacons.beaconer) else 27.0,
        2 * float(devices.gain_dbi.max()) if devices.size else 0.0,  # no located device: nobody to read
        trust.displaced_min_hear_probability,
        trust,
    )
