"""Device attributes the wireless sector reads (docs/onboarding.md, "Attributes")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class WirelessMakerAttributes(BaseModel):
    """What the maker attests: the radio's mode (only `full` hotspots take part in proof of coverage) and
    the region plan it is built for."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    region: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    verifier: bool | None = None
    """A maker-attested verifier (a network-operated radio): an anchor of the witness graph
    (`[sectors.wireless.poc.trust] verifier_makers` says whose attestation counts)."""


class WirelessOwnerAttributes(BaseModel):
    """What the owner states with the location: the antenna's gain (it decides how far the radio hears)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    gain_dbi: Annotated[float, Field(ge=-10, le=30)] | None = None
