"""Wireless proof of coverage: beacons, witnesses, Helium's per-report rules, HIP-15/17/83/106, and trust."""

from opendepin.sectors.wireless.poc.entropy import (
    Entropy,
    compute_beacon_data,
    compute_entropy,
    compute_entropy_timestamp,
    get_entropy,
    is_entropy_fresh,
)
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc
from opendepin.sectors.wireless.poc.params import PocParams, TrustParams
from opendepin.sectors.wireless.poc.reports import (
    BEACON,
    POC_REPORT_KINDS,
    WITNESS,
    BeaconPayload,
    WitnessPayload,
)

__all__ = [
    "BEACON",
    "ENTROPY_CONTEXT_KEY",
    "POC_REPORT_KINDS",
    "WITNESS",
    "BeaconPayload",
    "Entropy",
    "PocParams",
    "TrustParams",
    "WitnessPayload",
    "compute_beacon_data",
    "compute_entropy",
    "compute_entropy_timestamp",
    "evaluate_poc",
    "get_entropy",
    "is_entropy_fresh",
]
