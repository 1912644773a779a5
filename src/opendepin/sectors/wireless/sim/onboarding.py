"""The attributes a simulated hotspot is onboarded with, in the node's onboarding format.

The maker attests hardware facts (`mode`: a full hotspot takes part in proof of coverage; `region`: its
LoRa frequency plan), the owner states what only the owner knows (`gain_dbi`: the antenna fitted). The node
stores their union as `DeviceInfo.attributes`; the wireless rules read `mode` and `gain_dbi` from there.
"""

from __future__ import annotations

from opendepin.identity.attestation import AttributeValue, check_attributes, merge_attributes

FULL_HOTSPOT = "full"


def hotspot_maker_attributes(region: str, mode: str = FULL_HOTSPOT) -> dict[str, AttributeValue]:
    """What the maker signs with the device: hotspot mode and frequency plan."""
    return check_attributes({"mode": mode, "region": region}, "maker")


def hotspot_owner_attributes(gain_dbi: float) -> dict[str, AttributeValue]:
    """What the owner signs with the location: the antenna gain in dBi."""
    return check_attributes({"gain_dbi": float(gain_dbi)}, "owner")


def hotspot_attributes(region: str, gain_dbi: float, mode: str = FULL_HOTSPOT) -> dict[str, AttributeValue]:
    """`DeviceInfo.attributes` as the node records them: maker's and owner's merged (no name in both)."""
    return merge_attributes(hotspot_maker_attributes(region, mode), hotspot_owner_attributes(gain_dbi))
