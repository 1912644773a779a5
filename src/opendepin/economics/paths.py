"""Deterministic and random path pieces shared by demand and price: shocks and log random walks.

A log random walk is w_{t+1} = w_t − σ²/2·Δt + σ·√Δt·ε (ε ~ N(0, 1), Δt = 1/365), so that
E[exp(w_t)] = 1: noise widens the fan around a trend without moving its mean (Itô correction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.spec import DAYS_PER_YEAR, ShockSpec

FloatArray = NDArray[np.float64]


def compute_shock_factor(shocks: Sequence[ShockSpec], days: FloatArray) -> FloatArray:
    """Π over shocks of `factor` on days in [day, day + duration), 1 elsewhere."""
    factor = np.ones_like(days, dtype=np.float64)
    for shock in shocks:
        end = np.inf if shock.duration_days is None else shock.day + shock.duration_days
        factor *= np.where((days >= shock.day) & (days < end), shock.factor, 1.0)
    return factor


def compute_walk_drift(volatility_per_year: float, drift_per_year: float = 0.0) -> float:
    """Daily drift of a log walk: (μ − σ²/2)/365."""
    return (drift_per_year - 0.5 * volatility_per_year**2) / DAYS_PER_YEAR


def compute_walk_scale(volatility_per_year: float) -> float:
    """Daily standard deviation of a log walk: σ/√365."""
    return volatility_per_year / float(np.sqrt(DAYS_PER_YEAR))


def advance_log_walk(
    start: FloatArray, drift: FloatArray | float, scale: FloatArray | float, normals: FloatArray
) -> FloatArray:
    """Walk values after each row of `normals` (time first): start + cumulative Σ(drift + scale·ε)."""
    return start + np.cumsum(drift + scale * normals, axis=0)
