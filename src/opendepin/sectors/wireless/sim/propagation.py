"""Radio physics for the fleet simulator: log-distance path loss, log-normal shadowing, gains, sensitivity.

Received power (dBm) = tx power + gain_tx + gain_rx + site_tx + site_rx − PL(d) − shadowing − fading,
PL(d) = PL(1 m) + 10·n·log10(d). Shadowing is static per link (terrain, buildings; symmetric),
fading changes per transmission; a packet is heard when the received power reaches the receiver's
sensitivity. Site offsets are per device and unknown to the verifier (a mast, a window, an attic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RadioPhysics:
    """The simulator's ground truth (deliberately not identical to the verifier's nominal model)."""

    path_loss_exponent: float = 3.5
    reference_loss_db: float = 40.0
    shadowing_sigma_db: float = 6.0
    fading_sigma_db: float = 2.5
    site_sigma_db: float = 2.0
    sensitivity_dbm: float = -120.0
    sensitivity_sigma_db: float = 1.0
    tx_power_dbm: float = 27.0
    noise_floor_dbm: float = -117.0
    clock_jitter_ms: float = 3.0

    def max_range_m(self, max_gains_dbi: float, margin_sigma: float = 3.5) -> float:
        """Distance beyond which no packet is heard even with `margin_sigma` of lucky shadowing."""
        sigma = float(np.hypot(self.shadowing_sigma_db, self.fading_sigma_db))
        budget = self.tx_power_dbm + max_gains_dbi + 2 * 3 * self.site_sigma_db - self.sensitivity_dbm
        return float(
            10 ** ((budget + margin_sigma * sigma - self.reference_loss_db) / (10 * self.path_loss_exponent))
        )


def compute_path_loss_db(distance_m: FloatArray, physics: RadioPhysics) -> FloatArray:
    """PL(d) = PL(1 m) + 10·n·log10(d), d floored at 1 m."""
    return physics.reference_loss_db + 10 * physics.path_loss_exponent * np.log10(np.maximum(distance_m, 1.0))


def compute_received_dbm(
    tx_power_dbm: FloatArray,
    gains_dbi: FloatArray,
    sites_db: FloatArray,
    distance_m: FloatArray,
    shadowing_db: FloatArray,
    fading_db: FloatArray,
    physics: RadioPhysics,
) -> FloatArray:
    """Received power of each link for one transmission."""
    return (
        tx_power_dbm
        + gains_dbi
        + sites_db
        - compute_path_loss_db(distance_m, physics)
        - shadowing_db
        - fading_db
    )


def compute_fspl_db(distance_m: FloatArray, frequency_hz: float) -> FloatArray:
    """Free-space path loss, the bound a cheater must stay under to pass Helium's RSSI rule."""
    return 20 * np.log10(4 * np.pi * np.maximum(distance_m, 1.0) * frequency_hz / 2.998e8)


def compute_snr_db(rssi_dbm: FloatArray, physics: RadioPhysics) -> FloatArray:
    """Signal-to-noise ratio against the receiver's noise floor, clipped to the LoRa range."""
    return np.clip(rssi_dbm - physics.noise_floor_dbm, -20.0, 15.0)
