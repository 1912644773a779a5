"""The reward policy in the simulator: the float64 twin of :mod:`opendepin.rewards.policy`.

The epoch engine settles in exact integers; the simulator forecasts in float64 with the same rule, read from
the same `[rewards.usage]` definition (see :class:`opendepin.economics.spec.UsagePolicySpec`). Each day:

  r = served USD ÷ (tokens minted × oracle price)        (0 when nothing is minted)
  w = w(r), linear between the policy's points, flat before the first and after the last
  usage pool = w × device pool, coverage pool = (1 − w) × device pool
  usage pay  = pro rata to the USD of service each device carried, at most cap × its token value
  left       = usage pool − usage pay: a share `unused_to_coverage` joins the coverage pool, the rest is
               not minted

The engine pays a device at most `cap` × the token value of its credits. All devices of the simulator are
paid the same tokens per USD carried, so that per-device cap is one bound on the tokens per USD: every
device is capped at once or none is. Values are valued at the oracle price, as the engine values credits at
the oracle's price.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.bme import MIN_PRICE_USD

FloatArray = NDArray[np.float64]
Points = Sequence[tuple[float, float]]
RAMP_MIN_COLUMNS = 2_048


def compute_usage_ratio(tokens_for_credits: FloatArray, minted: FloatArray) -> FloatArray:
    """r = USD users paid ÷ USD value of the day's mint, both at the oracle price P: (D / P) ÷ M, the tokens
    users bought for credits over the tokens minted; 0 when nothing is minted (as the engine)."""
    return tokens_for_credits / np.where(minted > 0, minted, np.inf)


def build_points(sets: Sequence[Points], runs: int) -> tuple[FloatArray, FloatArray]:
    """The policy points of every parameter set as (ratios, weights).

    Equal in every set: two 1-D arrays of the points (the model evaluates them with `np.interp`). Otherwise
    (m, N) arrays, one column per run, each set's points padded to the longest by repeating its last point
    (a repeated point adds an empty segment, so w is unchanged).
    """
    if all(list(points) == list(sets[0]) for points in sets):
        table = np.array(sets[0], dtype=np.float64).reshape(-1, 2)
        return table[:, 0].copy(), table[:, 1].copy()
    longest = max(len(points) for points in sets)
    padded = np.array(
        [list(points) + [points[-1]] * (longest - len(points)) for points in sets], dtype=np.float64
    )  # (sets, m, 2)
    columns = np.repeat(padded, runs, axis=0)  # (N, m, 2)
    return columns[:, :, 0].T.copy(), columns[:, :, 1].T.copy()


def compute_usage_weight(ratio: FloatArray, ratios: FloatArray, weights: FloatArray) -> FloatArray:
    """w(r) for every column: linear between the points, flat outside (same rule as the engine's
    `compute_usage_weight`, in float64). `ratios`/`weights` are 1-D (shared points) or (m, N) (per column).

    Shared points: `np.interp` for small batches; from RAMP_MIN_COLUMNS columns on, the sum of ramps
    (:func:`compute_usage_weight_by_ramps`), a few streaming ufuncs that beat interp's per-element search."""
    if ratios.ndim == 1:
        if ratio.size >= RAMP_MIN_COLUMNS:
            return compute_usage_weight_by_ramps(ratio, ratios, weights)
        return np.interp(ratio, ratios, weights)
    weight = np.where(ratio <= ratios[0], weights[0], weights[-1])
    for j in range(ratios.shape[0] - 1):
        r0, r1, w0, w1 = ratios[j], ratios[j + 1], weights[j], weights[j + 1]
        inside = (ratio > r0) & (ratio <= r1)
        span = np.where(r1 > r0, r1 - r0, 1.0)
        weight = np.where(inside, w0 + (w1 - w0) * (ratio - r0) / span, weight)
    return weight


def compute_usage_weight_by_ramps(ratio: FloatArray, ratios: FloatArray, weights: FloatArray) -> FloatArray:
    """w(r) = w_0 + Σ_j s_j · (clip(r, r_j, r_{j+1}) − r_j), s_j the slope of segment j: the same piecewise
    linear function as interpolation (flat before r_0, w_last after the last point), for shared 1-D points."""
    weight = np.full(ratio.shape, weights[0])
    for j in range(ratios.shape[0] - 1):
        width = ratios[j + 1] - ratios[j]
        along = (np.minimum(np.maximum(ratio, ratios[j]), ratios[j + 1]) - ratios[j]) / width  # in [0, 1]
        weight += (weights[j + 1] - weights[j]) * along  # never inf × 0, however close two points are
    return weight


def compute_usage_pay(
    usage_pool: FloatArray,
    carried_usd: FloatArray,
    cap: FloatArray | float,
    price: FloatArray | float,
) -> tuple[FloatArray, FloatArray]:
    """Tokens per USD of service carried, and the usage pay in total (tokens).

    `carried_usd` is the USD of service carried by devices that are there to be paid (a sector without
    devices earns nothing). The pool is shared pro rata to it, at most cap ÷ price tokens per USD (each
    device's cap × token value of what it carried). With nothing carried the rate is the cap's, and nothing
    is paid (0 USD × rate)."""
    per_usd = np.minimum(usage_pool / np.maximum(carried_usd, 1e-12), cap / np.maximum(price, MIN_PRICE_USD))
    return per_usd, per_usd * carried_usd
