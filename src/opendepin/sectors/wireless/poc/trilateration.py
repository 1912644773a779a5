"""Where the radio evidence puts a hotspot: robust trilateration from RSSI-derived distances.

Each link gives a distance estimate d̂ from the nominal path-loss model; the position x minimises
Σ w·(log10|x − p_j| − log10 d̂_j)² over the counterparts' asserted positions p_j (Gauss–Newton with
Cauchy re-weighting, vectorised over devices). The gain in fit between the asserted location and the
best position is a χ²-like figure: large when the evidence disagrees with the assertion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendepin.sectors.wireless.poc.evidence import BoolArray, DeviceTable, FloatArray, IntArray, LinkTable
from opendepin.sectors.wireless.poc.params import TrustParams

LN10 = float(np.log(10.0))
MIN_DISTANCE_M = 50.0


@dataclass(frozen=True, slots=True)
class PositionFit:
    """Per device: distance from the assertion to the best fit, fit gain, links used."""

    offset_m: FloatArray
    gain: FloatArray
    links: IntArray
    position: FloatArray


@dataclass(frozen=True, slots=True)
class Observations:
    """Padded per-device observations: counterpart positions, log10 distance estimates, weights."""

    points: FloatArray
    log_distance: FloatArray
    weight: FloatArray


def compute_log_distance(
    rssi_dbm: FloatArray, tx_power_dbm: FloatArray, gains_dbi: FloatArray, trust: TrustParams
) -> FloatArray:
    """log10 of the distance the nominal model assigns to a received power."""
    loss = tx_power_dbm + gains_dbi - rssi_dbm
    return (loss - trust.reference_loss_db) / (10 * trust.path_loss_exponent)


@dataclass(frozen=True, slots=True)
class LinkEnds:
    """Every masked link between different owners seen from both ends: the end, the other end, the
    model's log-distance, the RSSI, and a weight of 1 / (links between that end and that other owner)."""

    ends: IntArray
    others: IntArray
    log_distance: FloatArray
    rssi_dbm: FloatArray
    weight: FloatArray


def gather_link_ends(links: LinkTable, mask: BoolArray, devices: DeviceTable, trust: TrustParams) -> LinkEnds:
    """Both ends of the cross-owner links, weighted so one neighbouring wallet is one voice per hotspot."""
    owner = devices.owner
    keep = mask & (owner[links.beaconer] != owner[links.witness])
    gains = devices.gain_dbi[links.beaconer] + devices.gain_dbi[links.witness]
    logd = compute_log_distance(links.rssi_dbm, links.tx_power_dbm, gains, trust)[keep]
    ends = np.concatenate([links.beaconer[keep], links.witness[keep]])
    others = np.concatenate([links.witness[keep], links.beaconer[keep]])
    pair = ends * (int(owner.max()) + 1 if len(owner) else 1) + owner[others]
    _, pair_inverse, pair_counts = np.unique(pair, return_inverse=True, return_counts=True)
    return LinkEnds(
        ends,
        others,
        np.concatenate([logd, logd]),
        np.concatenate([links.rssi_dbm[keep]] * 2),
        1.0 / pair_counts[pair_inverse],
    )


def gather_observations(
    links: LinkTable, mask: BoolArray, devices: DeviceTable, trust: TrustParams
) -> Observations:
    """Both ends of every masked link between different owners, strongest first, `geometry_max_links` each."""
    both = gather_link_ends(links, mask, devices, trust)
    ends, others, logd, rssi, owner_weight = (
        both.ends,
        both.others,
        both.log_distance,
        both.rssi_dbm,
        both.weight,
    )
    order = np.lexsort((-rssi, ends))
    ends, others, logd, owner_weight = ends[order], others[order], logd[order], owner_weight[order]
    counts = np.bincount(ends, minlength=devices.size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(ends)) - starts[ends]
    width = trust.geometry_max_links
    take = rank < width
    points = np.zeros((devices.size, width, 2))
    log_distance = np.zeros((devices.size, width))
    weight = np.zeros((devices.size, width))
    points[ends[take], rank[take]] = devices.xy[others[take]]
    log_distance[ends[take], rank[take]] = logd[take]
    weight[ends[take], rank[take]] = owner_weight[take]
    return Observations(points, log_distance, weight)


def compute_residuals(x: FloatArray, obs: Observations) -> tuple[FloatArray, FloatArray]:
    """Residuals log10|x − p| − log10 d̂ and their Jacobian with respect to x, per observation."""
    delta = x[:, None, :] - obs.points
    squared = np.maximum((delta**2).sum(axis=2), MIN_DISTANCE_M**2)
    residual = 0.5 * np.log10(squared) - obs.log_distance
    jacobian = delta / (squared[:, :, None] * LN10)
    return residual, jacobian


def compute_cost(x: FloatArray, obs: Observations, sigma: float) -> FloatArray:
    """Robust (Cauchy) cost of positions x: Σ w·ln(1 + (r / 2σ)²)."""
    residual, _ = compute_residuals(x, obs)
    return (obs.weight * np.log1p((residual / (2 * sigma)) ** 2)).sum(axis=1)


def refine_positions(x: FloatArray, obs: Observations, sigma: float, steps: int = 25) -> FloatArray:
    """Damped Gauss–Newton with Cauchy weights, every device at once."""
    for _ in range(steps):
        residual, jacobian = compute_residuals(x, obs)
        w = obs.weight / (1.0 + (residual / (2 * sigma)) ** 2)
        h = np.einsum("nk,nki,nkj->nij", w, jacobian, jacobian) + np.eye(2) * 1e-12
        g = np.einsum("nk,nki,nk->ni", w, jacobian, residual)
        damped = h + np.eye(2) * (np.trace(h, axis1=1, axis2=2)[:, None, None] * 1e-3)
        step = -np.linalg.solve(damped, g[:, :, None])[:, :, 0]
        step_norm = np.linalg.norm(step, axis=1, keepdims=True)
        x = x + step * np.minimum(1.0, 5_000.0 / np.maximum(step_norm, 1e-9))
    return x


def fit_positions(links: LinkTable, mask: BoolArray, devices: DeviceTable, trust: TrustParams) -> PositionFit:
    """Best position of every device from its links; offset from its assertion and the fit gain."""
    obs = gather_observations(links, mask, devices, trust)
    sigma = trust.shadowing_sigma_db / (10 * trust.path_loss_exponent)
    used = (obs.weight > 0).sum(axis=1)
    inverse_d2 = obs.weight * 10 ** (-2 * obs.log_distance)
    centroid = (inverse_d2[:, :, None] * obs.points).sum(axis=1) / np.maximum(inverse_d2.sum(axis=1), 1e-30)[
        :, None
    ]
    centroid = np.where(used[:, None] > 0, centroid, devices.xy)
    candidates = [refine_positions(devices.xy.copy(), obs, sigma), refine_positions(centroid, obs, sigma)]
    costs = np.stack([compute_cost(c, obs, sigma) for c in candidates])
    best = np.where((costs[0] <= costs[1])[:, None], candidates[0], candidates[1])
    gain = 2 * (compute_cost(devices.xy, obs, sigma) - np.minimum(costs[0], costs[1]))
    offset = np.sqrt(((best - devices.xy) ** 2).sum(axis=1))
    return PositionFit(offset, np.maximum(gain, 0.0), used.astype(np.int64), best)
