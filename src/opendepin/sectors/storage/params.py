"""Parameters of the storage sector (`[sectors.storage]` of network.toml), Storj's defaults where Storj has
one. Decimal values are read as the decimals they spell (`Fraction(str(x))`) wherever they decide money or
a state."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

DAY = 86_400


class ReputationParams(BaseModel):
    """Decayed Beta reputation (audit and unknown-error scores), online score and vetting (Storj's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    audit_lambda: Annotated[float, Field(gt=0, le=1)] = 0.999
    audit_weight: Annotated[float, Field(gt=0)] = 1.0
    audit_alpha0: Annotated[float, Field(gt=0)] = 1_000.0
    audit_dq: Annotated[float, Field(ge=0, le=1)] = 0.96
    """Disqualified (for good) when the audit score falls to this or below."""
    audit_warning: Annotated[float, Field(ge=0, le=1)] = 0.98
    """A warning note when the audit score first falls to this or below (before any disqualification)."""
    unknown_lambda: Annotated[float, Field(gt=0, le=1)] = 0.95
    unknown_alpha0: Annotated[float, Field(gt=0)] = 1.0
    unknown_suspend: Annotated[float, Field(ge=0, le=1)] = 0.6
    """Suspended (no pay, no new pieces) while the unknown-error score is at or below this; lifted above."""
    online_window_s: Annotated[int, Field(ge=60)] = 12 * 3_600
    online_tracking_s: Annotated[int, Field(ge=60)] = 30 * DAY
    online_threshold: Annotated[float, Field(ge=0, le=1)] = 0.6
    """Under review (offline) when the online score is below this over a full tracking period."""
    online_pay_threshold: Annotated[float, Field(ge=0, le=1)] = 0.75
    """Paid only while the online score (over the completed windows so far) is at least this, once
    `online_pay_windows` windows are complete: a network pays for bytes its clients can reach."""
    online_pay_windows: Annotated[int, Field(ge=1)] = 4
    """The pay rule on the online score applies once this many windows are complete (one bad window at
    the start is not a verdict)."""
    offline_grace_s: Annotated[int, Field(ge=0)] = 7 * DAY
    offline_dq: bool = False
    """Storj's release default: a node under review is not disqualified for being offline."""
    vetting_audits: Annotated[int, Field(ge=0)] = 100
    vetting_age_s: Annotated[int, Field(ge=0)] = 21 * DAY


class StorageParams(BaseModel):
    """Every constant of the storage rules (docs/storage.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    category: str = "storage"
    """Emission category: byte-hours of healthy, audited pieces held by eligible providers."""
    usage_category: str = "storage_usage"
    """Usage pool: what clients pay providers with data credits (GB-hours stored, egress, repair)."""
    k: Annotated[int, Field(ge=1, le=128)] = 4
    n: Annotated[int, Field(ge=2, le=255)] = 10
    repair_threshold: Annotated[int, Field(ge=1, le=255)] = 6
    """A segment with this many healthy pieces or fewer is repaired (rebuilt from the survivors)."""
    leaf_size: Annotated[int, Field(ge=64, le=65_536)] = 4_096
    stripe_size: Annotated[int, Field(ge=1, le=4_096)] = 256
    audit_period_s: Annotated[int, Field(ge=60)] = 3_600
    audit_slots: Annotated[int, Field(ge=1, le=64)] = 3
    """Pieces per provider and audit period, chosen by size-weighted reservoir sampling (A-Res)."""
    stripe_audit_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Share of segments whose one random stripe every holder must send in a period (error location)."""
    latency_bound_s: Annotated[int, Field(ge=1)] = 10
    """An answer received later than this after the audit is issued is `storage.slow_response` (an
    unknown error): the bound against fetching the bytes elsewhere on demand."""
    timeout_s: Annotated[int, Field(ge=1)] = 120
    """An audit not answered within this goes to containment (the same piece, next periods)."""
    max_reverify: Annotated[int, Field(ge=1, le=16)] = 3
    clean_epochs: Annotated[int, Field(ge=1, le=365)] = 7
    """Pay needs no proven failure (missing, corrupt, containment exhausted) in this many epochs."""
    max_pieces_per_epoch: Annotated[int, Field(ge=1)] = 100_000
    """Puts a provider may register per epoch (more are refused: bounds the work of an epoch)."""
    reputation: ReputationParams = Field(default_factory=ReputationParams)
    credits_per_gb_hour: Annotated[int, Field(ge=0)] = 1
    """What a client pays per GB-hour stored (1 credit = $0.00001: $7.2/TB·month at 720 h)."""
    credits_per_gb_egress: Annotated[int, Field(ge=0)] = 700
    """What a client pays per GB downloaded ($7/TB)."""
    credits_per_gb_repair: Annotated[int, Field(ge=0)] = 1_000
    """What a repairer pays per GB of repair traffic (its own rate: Storj pays repair egress $10/TB)."""
    receipts_countersigned: bool = True
    """Usage pays only receipts the provider countersigned after it stored or served the bytes
    (`[receipt, client signature, provider signature]`); the node refuses others. False: the client's
    signature alone (the simulator, whose providers are stand-in identities without keys)."""
    pieces_paid_by_receipts: bool = True
    """A put or renewal counts (registered, audited, paid byte-hours) only until the end of what the
    byte-hours receipt it names pays: from the segment's client, to this provider, at this price, used by
    no other piece (paid.py). False: puts need no receipt (the simulators, whose pieces are paid apart)."""
    held_schedule: tuple[tuple[int, int], ...] = ()
    """Held amounts by age: ((age in epochs below, percent held), …), ages increasing; 0 % past the last
    step. Empty: nothing held. Storj's schedule with daily epochs: ((90, 75), (180, 50), (270, 25))."""
    held_returns: tuple[tuple[int, int], ...] = ()
    """Returns of what is held: ((age in epochs, percent of what is held then), …). Storj: ((450, 50),)."""

    @model_validator(mode="after")
    def _coherent(self) -> StorageParams:
        if self.k >= self.n:
            raise ValueError("k must be below n")
        if not self.k <= self.repair_threshold < self.n:
            raise ValueError("repair_threshold must be in [k, n)")
        if self.leaf_size % self.stripe_size:
            raise ValueError("leaf_size must be a multiple of stripe_size")
        if self.timeout_s < self.latency_bound_s:
            raise ValueError("timeout_s must be ≥ latency_bound_s")
        for name in ("held_schedule", "held_returns"):
            steps = getattr(self, name)
            ages = [age for age, _ in steps]
            if ages != sorted(set(ages)) or any(age < 0 or not 0 <= pct <= 100 for age, pct in steps):
                raise ValueError(f"{name}: ages must increase and percents lie in [0, 100]")
        return self

    def fraction(self, name: str) -> Fraction:
        """A decimal parameter as the exact fraction it spells (`reputation.x` for nested ones)."""
        return _fraction(self, name)


@lru_cache(maxsize=256)
def _fraction(params: StorageParams, name: str) -> Fraction:
    """`StorageParams.fraction`, remembered (parameters are frozen; reputation updates ask often)."""
    holder: BaseModel = params
    *parents, leaf = name.split(".")
    for parent in parents:
        holder = getattr(holder, parent)
    return Fraction(str(getattr(holder, leaf)))
