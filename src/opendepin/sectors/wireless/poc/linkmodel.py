"""The network's nominal radio model, used by detection: log-distance path loss, log-normal shadowing.

Every function uses `opendepin.detmath`, so the figures (and the thresholds applied to them) are the same
bits on every machine.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from opendepin import detmath
from opendepin.sectors.wireless.poc.params import TrustParams

SQRT2 = 1.4142135623730951

FloatArray = npt.NDArray[np.float64]


def compute_path_loss_db(distance_m: FloatArray, trust: TrustParams) -> FloatArray:
    """PL(d) = PL(1 m) + 10·n·log10(d / 1 m) (log-distance model)."""
    return trust.reference_loss_db + 10 * trust.path_loss_exponent * detmath.log10(
        np.maximum(distance_m, 1.0)
    )


def compute_expected_rssi_dbm(
    tx_power_dbm: FloatArray, gains_dbi: FloatArray, distance_m: FloatArray, trust: TrustParams
) -> FloatArray:
    """Median received power: tx power + both antenna gains − PL(d)."""
    return tx_power_dbm + gains_dbi - compute_path_loss_db(distance_m, trust)


def normal_sf(z: FloatArray) -> FloatArray:
    """Upper tail P(Z > z) of the standard normal (erfc via Abramowitz–Stegun 7.1.26, |error| < 1.5e-7)."""
    x = np.abs(z) / SQRT2
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    half_erfc = 0.5 * poly * detmath.exp(-x * x)
    return np.where(z >= 0, half_erfc, 1.0 - half_erfc)


def compute_hear_probability(expected_rssi_dbm: FloatArray, trust: TrustParams) -> FloatArray:
    """P(received power ≥ sensitivity) under log-normal shadowing."""
    return normal_sf((trust.sensitivity_dbm - expected_rssi_dbm) / trust.shadowing_sigma_db)


def compute_link_surprise(
    rssi_dbm: FloatArray, expected_rssi_dbm: FloatArray, trust: TrustParams
) -> FloatArray:
    """−log10 P(RSSI ≥ observed | asserted distance): small on honest links, large when distance lies."""
    tail = normal_sf((rssi_dbm - expected_rssi_dbm) / trust.shadowing_sigma_db)
    return -detmath.log10(np.maximum(tail, 1e-300))


def compute_range_m(tx_power_dbm: float, gains_dbi: float, probability: float, trust: TrustParams) -> float:
    """Distance within which a link is heard with at least `probability` (inverse of the model)."""
    z = _normal_isf(probability)
    budget = tx_power_dbm + gains_dbi - trust.sensitivity_dbm + z * trust.shadowing_sigma_db
    return detmath.pow10((budget - trust.reference_loss_db) / (10 * trust.path_loss_exponent))


def _normal_isf(probability: float) -> float:
    """z with P(Z > z) = probability, by bisection on `normal_sf` (no scipy)."""
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if normal_sf(np.array([mid]))[0] > probability:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def compute_heard_nll(
    rssi_dbm: FloatArray, expected_rssi_dbm: FloatArray, trust: TrustParams, cap: float
) -> FloatArray:
    """Negative log-likelihood of an RSSI *given that the link was heard at all*, at the median the model
    expects: ½·z² + ln P(heard), z = (RSSI − median) / σ, capped at `cap` per link.

    A link is only ever reported when it reached the receiver's sensitivity, so far links are heard only
    with lucky shadowing and read as closer than they are; the plain log-distance residual then favours
    any position nearer to where the neighbours crowd. Conditioning on being heard (a normal truncated at
    the sensitivity) removes that bias. The cap bounds what one link (a neighbour that itself lies about
    where it stands) can weigh."""
    z = (rssi_dbm - expected_rssi_dbm) / trust.shadowing_sigma_db
    heard = compute_hear_probability(expected_rssi_dbm, trust)
    return np.minimum(0.5 * z * z + detmath.log(np.maximum(heard, 1e-300)), cap)
