"""The attributes a simulated hotspot is onboarded with, in the node's onboarding format.

The maker attests hardware facts (`mode`: a full hotspot takes part in proof of coverage; `region`: its
LoRa frequency plan, the one of where it is sold and stands), the owner states what only the owner knows
(`gain_dbi`: the antenna fitted). The node stores their union as `DeviceInfo.attributes`; the wireless rules
read `mode` and `gain_dbi` from there.
"""

from __future__ import annotations

import random

from opendepin.identity.attestation import AttributeValue, check_attributes, merge_attributes

FULL_HOTSPOT = "full"
GAINS_DBI = (1.2, 2.5, 3.0, 4.0, 5.8, 8.0)
"""Antennas hotspots carry (dBi)."""
DEFAULT_PLAN = "EU868"
FREQUENCY_PLANS: tuple[tuple[str, float, float, float, float], ...] = (
    ("US915", 5.0, -170.0, 75.0, -50.0),
    ("AU915", -60.0, -90.0, 5.0, -30.0),
    ("AU915", -50.0, 110.0, -10.0, 180.0),
)
"""LoRa frequency plans by area: (plan, south, west, north, east) in degrees, first match wins; elsewhere
EU868. Coarse on purpose: North America uses US915, South America and Australia AU915, Europe and Africa
EU868; Asian plans (AS923, CN470, IN865, KR920) are not simulated."""


def compute_frequency_plan(lat: float, lon: float) -> str:
    """The LoRa frequency plan of a hotspot standing at (lat, lon) (FREQUENCY_PLANS)."""
    for plan, south, west, north, east in FREQUENCY_PLANS:
        if south <= lat <= north and west <= lon <= east:
            return plan
    return DEFAULT_PLAN


def compute_gain_dbi(seed: int, index: int) -> float:
    """The antenna hotspot `index` of a fleet seeded `seed` carries (its owner states it at onboarding)."""
    return float(GAINS_DBI[random.Random(f"{seed}:antenna:{index}").randrange(len(GAINS_DBI))])


def hotspot_maker_attributes(
    region: str, mode: str = FULL_HOTSPOT, verifier: bool = False
) -> dict[str, AttributeValue]:
    """What the maker signs with the device: hotspot mode and frequency plan (and, for the network's own
    verifier radios, `verifier`)."""
    attributes: dict[str, AttributeValue] = {"mode": mode, "region": region}
    if verifier:
        attributes["verifier"] = True
    return check_attributes(attributes, "maker")


def hotspot_owner_attributes(gain_dbi: float) -> dict[str, AttributeValue]:
    """What the owner signs with the location: the antenna gain in dBi."""
    return check_attributes({"gain_dbi": float(gain_dbi)}, "owner")


def hotspot_attributes(
    region: str, gain_dbi: float, mode: str = FULL_HOTSPOT, verifier: bool = False
) -> dict[str, AttributeValue]:
    """`DeviceInfo.attributes` as the node records them: maker's and owner's merged (no name in both)."""
    return merge_attributes(
        hotspot_maker_attributes(region, mode, verifier), hotspot_owner_attributes(gain_dbi)
    )
