"""Attributes a storage provider states at onboarding (owner-stated: facts of the site, not the hardware)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StorageOwnerAttributes(BaseModel):
    """`capacity_bytes` offered, the provider's `network_prefix` (its IPv4 /24 or IPv6 /48, e.g.
    `203.0.113.0/24`; a segment holds one piece per prefix) and where clients reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    capacity_bytes: Annotated[int, Field(ge=0, le=2**60)]
    network_prefix: Annotated[str, Field(min_length=3, max_length=64)]
    endpoint: Annotated[str, Field(max_length=200)] | None = None
