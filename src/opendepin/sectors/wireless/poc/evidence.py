"""Plain arrays the detectors read: devices (owner, position, gain) and the epoch's radio links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class DeviceTable:
    """Devices of the epoch by index: owner index, asserted position (plane metres), gain, eligibility."""

    ids: list[str]
    owner: IntArray
    xy: FloatArray
    gain_dbi: FloatArray
    eligible: BoolArray
    """Located full hotspots that sent a proof-of-coverage report this epoch (could have witnessed)."""
    anchor: BoolArray | None = None
    """Anchors of the witness graph (maker-attested verifiers); None: none."""
    cells: list[str] | None = None
    """Asserted cell per device (a changed assertion resets the carried evidence)."""
    onboarded_at: IntArray | None = None
    """Onboarding time per device (seconds, from the epoch's device records); None: all the same."""

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class LinkTable:
    """Witness links that passed the per-report rules: beacon index, beaconer, witness, radio figures."""

    beacon: IntArray
    beaconer: IntArray
    witness: IntArray
    rssi_dbm: FloatArray
    tx_power_dbm: FloatArray
    distance_m: FloatArray
    lag_ms: FloatArray

    @property
    def size(self) -> int:
        return len(self.beacon)


@dataclass(frozen=True, slots=True)
class BeaconTable:
    """Valid beacons by index (beaconer index, tx power) and every (beacon, witness) pair reported at all."""

    beaconer: IntArray
    tx_power_dbm: FloatArray
    reported_pairs: IntArray
    """beacon index × number of devices + witness index, for every witness report citing the beacon."""
    close_beaconer: IntArray | None = None
    """Receptions the rules rejected as too close (`witness.too_close`, `witness.rssi_too_strong`), which
    passed every other check: beaconer and witness index, RSSI, tx power (None: not gathered)."""
    close_witness: IntArray | None = None
    close_rssi_dbm: FloatArray | None = None
    close_tx_power_dbm: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class ValidLinks:
    """The witnesses that passed the per-report rules, one row each: beacon after beacon in the order of the
    epoch's beacon mapping, and within a beacon in its witness list's order (receive order). What the link
    table is built from (`tables.build_tables`), before or without the witness entries."""

    beacon: IntArray
    """Each row's beacon as its position in the beacon mapping."""
    report_id: list[str]
    device_id: list[str]
    rssi_dbm: FloatArray
    distance_m: FloatArray
    """Between the two asserted cells' centres, as the witness's verdict shows it (0.1 m)."""
    lag_ms: FloatArray
    """Receive time − the beacon's transmit time (ms), exact integers as floats."""
    located: list[str] | None = None
    """The located devices' ids in ascending order, which the index arrays below refer to (None: none)."""
    witness: IntArray | None = None
    """Each row's witness as its position in `located`."""
    reporter_beacon: IntArray | None = None
    reporter: IntArray | None = None
    """Every witness report counted in a beacon's `reported_by`: the beacon's position in the mapping and
    the reporter's in `located` (−1: not located)."""

    @property
    def size(self) -> int:
        return len(self.report_id)
