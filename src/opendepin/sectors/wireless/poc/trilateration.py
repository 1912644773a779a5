"""Where the radio evidence puts a hotspot: robust trilateration from RSSI-derived distances.

Each link gives a distance estimate d̂ from the nominal path-loss model; the position x minimises
Σ w·(log10|x − p_j| − log10 d̂_j)² over the counterparts' asserted positions p_j (Gauss–Newton with
Cauchy re-weighting, vectorised over devices). The gain in fit between the asserted location and the
best position is a χ²-like figure: large when the evidence disagrees with the assertion.

Deterministic on every machine: logarithms from `opendepin.detmath`, the 2 × 2 normal equations solved in
closed form, every sum over a device's links in a fixed pairwise order (`detmath.sum_last`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from opendepin import detmath
from opendepin.sectors.wireless.poc.evidence import BoolArray, DeviceTable, FloatArray, IntArray, LinkTable
from opendepin.sectors.wireless.poc.params import TrustParams

LN10 = 2.302585092994046
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


@dataclass(frozen=True, slots=True)
class Residuals:
    """Per observation: residual log10|x − p| − log10 d̂ and its gradient (∂r/∂x, ∂r/∂y)."""

    residual: FloatArray
    grad_x: FloatArray
    grad_y: FloatArray


def compute_residuals(x: FloatArray, obs: Observations) -> Residuals:
    """Residuals log10|x − p| − log10 d̂ and their Jacobian with respect to x, per observation."""
    dx = x[:, None, 0] - obs.points[:, :, 0]
    dy = x[:, None, 1] - obs.points[:, :, 1]
    squared = np.maximum(dx * dx + dy * dy, MIN_DISTANCE_M * MIN_DISTANCE_M)
    residual = 0.5 * detmath.log10(squared) - obs.log_distance
    scale = squared * LN10
    return Residuals(residual, dx / scale, dy / scale)


def compute_cauchy_cost(residual: FloatArray, weight: FloatArray, sigma: float) -> FloatArray:
    """Robust (Cauchy) cost per row: Σ w·ln(1 + (r / 2σ)²), summed in a fixed order."""
    ratio = residual / (2 * sigma)
    return detmath.sum_last(weight * detmath.log1p(ratio * ratio))


def compute_cost(x: FloatArray, obs: Observations, sigma: float) -> FloatArray:
    """Robust (Cauchy) cost of positions x: Σ w·ln(1 + (r / 2σ)²)."""
    return compute_cauchy_cost(compute_residuals(x, obs).residual, obs.weight, sigma)


def solve_damped_step(
    h00: FloatArray, h01: FloatArray, h11: FloatArray, g0: FloatArray, g1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """−(H + λ·trace(H)·I)⁻¹ g for symmetric 2 × 2 H (closed form, λ = 10⁻³, H regularised by 10⁻¹²)."""
    a, d = h00 + 1e-12, h11 + 1e-12
    damping = (a + d) * 1e-3
    a, d = a + damping, d + damping
    det = a * d - h01 * h01
    return -(d * g0 - h01 * g1) / det, -(a * g1 - h01 * g0) / det


def step_positions(x: FloatArray, obs: Observations, sigma: float) -> FloatArray:
    """One damped Gauss–Newton step with Cauchy weights (each row on its own)."""
    found = compute_residuals(x, obs)
    ratio = found.residual / (2 * sigma)
    w = obs.weight / (1.0 + ratio * ratio)
    wx, wy = w * found.grad_x, w * found.grad_y
    step_x, step_y = solve_damped_step(
        detmath.sum_last(wx * found.grad_x),
        detmath.sum_last(wx * found.grad_y),
        detmath.sum_last(wy * found.grad_y),
        detmath.sum_last(wx * found.residual),
        detmath.sum_last(wy * found.residual),
    )
    norm = np.sqrt(step_x * step_x + step_y * step_y)
    limit = np.minimum(1.0, 5_000.0 / np.maximum(norm, 1e-9))
    return np.stack([x[:, 0] + step_x * limit, x[:, 1] + step_y * limit], axis=1)


BLOCK_ROWS = 512
"""Rows stepped together: a block's observations (48 links padded to 64, a few arrays of them) stay in the
CPU cache for all its steps, where whole-fleet arrays would go to memory at every operation."""
THREADS = max(1, min(4, os.cpu_count() or 1))
"""Blocks refined at once, each on its own thread (numpy releases the GIL inside its array loops)."""


def refine_positions(
    x: FloatArray, obs: Observations, sigma: float, steps: int = 25, block_rows: int = BLOCK_ROWS
) -> FloatArray:
    """Damped Gauss–Newton with Cauchy weights, every device at once, `steps` steps.

    A step is a function of the row's position and observations alone, so a row that a step leaves at
    the very same bits is at a fixed point: every later step would leave it there too. Such rows leave
    the batch (the result is the same bits as stepping every row `steps` times, only cheaper). For the
    same reason the rows are refined `block_rows` at a time, each block through all its steps, the blocks
    on `THREADS` threads (each block's result depends on that block alone, whatever thread runs it)."""
    x = np.array(x, dtype=np.float64, copy=True)
    blocks = [np.arange(start, min(start + block_rows, len(x))) for start in range(0, len(x), block_rows)]

    def refine(block: IntArray) -> None:
        x[block] = _refine_block(x[block], _select_rows(obs, block), sigma, steps)

    if THREADS == 1 or len(blocks) < 2:
        for block in blocks:
            refine(block)
    else:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(refine, blocks))
    return x


def _refine_block(x: FloatArray, obs: Observations, sigma: float, steps: int) -> FloatArray:
    active = np.arange(len(x))
    for _ in range(steps):
        if len(active) == 0:
            break
        rows = x[active]
        moved = step_positions(rows, _select_rows(obs, active), sigma)
        x[active] = moved
        changed = (moved.view(np.int64) != rows.view(np.int64)).any(axis=1)
        active = active[changed]
    return x


def _select_rows(obs: Observations, rows: IntArray) -> Observations:
    if len(rows) == len(obs.weight):
        return obs
    return Observations(obs.points[rows], obs.log_distance[rows], obs.weight[rows])


def compute_heard_centroid(obs: Observations, fallback: FloatArray) -> FloatArray:
    """Per row: counterparts' positions weighted by w / d̂² (a starting point); `fallback` without links."""
    inverse_d2 = obs.weight * detmath.pow10(-2 * obs.log_distance)
    total = np.maximum(detmath.sum_last(inverse_d2), 1e-30)
    centroid = np.stack(
        [
            detmath.sum_last(inverse_d2 * obs.points[:, :, 0]) / total,
            detmath.sum_last(inverse_d2 * obs.points[:, :, 1]) / total,
        ],
        axis=1,
    )
    used = (obs.weight > 0).any(axis=1)
    return np.where(used[:, None], centroid, fallback)


def fit_positions(
    links: LinkTable, mask: BoolArray, devices: DeviceTable, trust: TrustParams, rows: IntArray | None = None
) -> PositionFit:
    """Best position of every device from its links; offset from its assertion and the fit gain. With
    `rows` (ascending device indices) only those devices are fitted, in that order: each device's fit reads
    its own observations alone, so a row comes out the same bits as in the fit of every device. Those are
    gathered from the links touching a row only: a device's observations, their order and their owner
    weights read its own links alone, in link order, which a subset of the links keeps."""
    xy = devices.xy
    if rows is None:
        obs = gather_observations(links, mask, devices, trust)
    else:
        row = np.zeros(devices.size, dtype=bool)
        row[rows] = True
        obs = gather_observations(links, mask & (row[links.beaconer] | row[links.witness]), devices, trust)
        obs = Observations(obs.points[rows], obs.log_distance[rows], obs.weight[rows])
        xy = devices.xy[rows]
    sigma = trust.shadowing_sigma_db / (10 * trust.path_loss_exponent)
    used = (obs.weight > 0).sum(axis=1)
    centroid = compute_heard_centroid(obs, xy)
    candidates = [refine_positions(xy.copy(), obs, sigma), refine_positions(centroid, obs, sigma)]
    costs = np.stack([compute_cost(c, obs, sigma) for c in candidates])
    best = np.where((costs[0] <= costs[1])[:, None], candidates[0], candidates[1])
    gain = 2 * (compute_cost(xy, obs, sigma) - np.minimum(costs[0], costs[1]))
    dx, dy = best[:, 0] - xy[:, 0], best[:, 1] - xy[:, 1]
    offset = np.sqrt(dx * dx + dy * dy)
    return PositionFit(offset, np.maximum(gain, 0.0), used.astype(np.int64), best)
