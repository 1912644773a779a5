"""Clone detection (ours): a station replaying a neighbour's data with noise and a time shift.

For every pair of stations within `clone_radius_m` (each station's `clone_candidates` nearest), their valid
temperature samples are laid on the model's slot grid (ts // step) and compared at every lag up to
`clone_max_lag_s`. At the lag where the difference varies least, the pair is a copy when, over at least
`clone_min_overlap` common slots, the RMS of the difference with its mean removed is at most the noise floor
`clone_rms_c` (honest neighbours differ by their own weather: far more) and the correlation exceeds
`clone_correlation`. All sums are integers; the comparisons are exact.

Which of the two copied the other: data can only be replayed after it was published, so the copier is the
one whose matching samples reached the node later (by receive time, counted over the matched slots); when
that is even, the one that shows the values later (a positive lag); then the one onboarded later; if all
tie, both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from opendepin.sectors.sensors.params import NeighbourParams, exact, milli

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CloneSeries:
    """A station's valid temperature samples: device time, value (m°C), receive time."""

    ts: IntArray
    values: IntArray
    received: IntArray


def _dense(
    series: CloneSeries, step_s: int, origin: int, length: int
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    slots = series.ts // step_s - origin
    values = np.zeros(length, dtype=np.int64)
    received = np.zeros(length, dtype=np.int64)
    mask = np.zeros(length, dtype=bool)
    values[slots] = series.values
    received[slots] = series.received
    mask[slots] = True
    return values, received, mask


def compare_pair(
    a: CloneSeries, b: CloneSeries, step_s: int, params: NeighbourParams
) -> dict[str, Any] | None:
    """The evidence that `a` and `b` are copies of each other (`lag_slots`: a(t) ≈ b(t − lag)), or None."""
    if a.ts.size < params.clone_min_overlap or b.ts.size < params.clone_min_overlap:
        return None
    max_lag = params.clone_max_lag_s // step_s
    origin = int(min(a.ts.min(), b.ts.min())) // step_s
    length = int(max(a.ts.max(), b.ts.max())) // step_s - origin + 1
    va, ra, ma = _dense(a, step_s, origin, length)
    vb, rb, mb = _dense(b, step_s, origin, length)
    pad = np.zeros(max_lag, dtype=np.int64)
    wb = sliding_window_view(np.concatenate([pad, vb, pad]), length)
    wm = sliding_window_view(np.concatenate([pad.astype(bool), mb, pad.astype(bool)]), length)
    mask = ma[None, :] & wm
    d = np.where(mask, va[None, :] - wb, 0)
    n = mask.sum(axis=1).astype(np.int64)
    s1 = d.sum(axis=1)
    s2 = (d * d).sum(axis=1)
    best: tuple[Fraction, int] | None = None
    for row in np.flatnonzero(n >= params.clone_min_overlap).tolist():
        spread = Fraction(int(n[row]) * int(s2[row]) - int(s1[row]) ** 2, int(n[row]) ** 2)
        if best is None or spread < best[0]:
            best = (spread, row)
    if best is None:
        return None
    spread, row = best
    floor = milli(params.clone_rms_c)
    if spread > floor * floor:
        return None
    m = mask[row]
    x = [int(v) for v in va[m].tolist()]
    y = [int(v) for v in wb[row][m].tolist()]
    k = len(x)
    sx, sy = sum(x), sum(y)
    cov = k * sum(p * q for p, q in zip(x, y, strict=True)) - sx * sy
    vx = k * sum(p * p for p in x) - sx * sx
    vy = k * sum(q * q for q in y) - sy * sy
    c = exact(params.clone_correlation)
    if cov <= 0 or cov * cov * c.denominator**2 <= c.numerator**2 * vx * vy:
        return None
    lag = max_lag - row
    later_a = int(np.count_nonzero(ra[m] > wb_received(rb, row, max_lag, length)[m]))
    later_b = int(np.count_nonzero(ra[m] < wb_received(rb, row, max_lag, length)[m]))
    rms_milli = int(float(spread) ** 0.5)
    return {
        "lag_s": lag * step_s,
        "lag_slots": lag,
        "overlap": k,
        "rms_milli": rms_milli,
        "correlation_squared": f"{cov * cov / (vx * vy):.6f}" if vx and vy else "1",
        "later_a": later_a,
        "later_b": later_b,
    }


def wb_received(rb: IntArray, row: int, max_lag: int, length: int) -> IntArray:
    pad = np.zeros(max_lag, dtype=np.int64)
    return np.concatenate([pad, rb, pad])[row : row + length]


def find_clones(
    series: Mapping[str, CloneSeries],
    candidates: Mapping[str, Sequence[tuple[str, int]]],
    onboarded: Mapping[str, int],
    step_s: Mapping[str, int],
    params: NeighbourParams,
) -> dict[str, dict[str, Any]]:
    """Copier → evidence (its source, lag, RMS, correlation, receive-time counts)."""
    found: dict[str, dict[str, Any]] = {}
    pairs = sorted(
        {
            tuple(sorted((a, b)))
            for a, near in candidates.items()
            for b, _ in near
            if a in series and b in series
        }
    )
    for a, b in pairs:
        step = step_s[a]
        if step_s[b] != step:
            continue
        evidence = compare_pair(series[a], series[b], step, params)
        if evidence is None:
            continue
        later_a, later_b, lag = evidence["later_a"], evidence["later_b"], evidence["lag_slots"]
        if later_a != later_b:
            copiers = [a] if later_a > later_b else [b]
        elif lag != 0:
            copiers = [a] if lag > 0 else [b]
        elif onboarded.get(a, 0) != onboarded.get(b, 0):
            copiers = [a] if onboarded.get(a, 0) > onboarded.get(b, 0) else [b]
        else:
            copiers = [a, b]
        for copier in copiers:
            source = b if copier == a else a
            if copier not in found:
                found[copier] = {"source": source, **evidence}
    return found
