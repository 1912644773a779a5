"""Every constant of the proof-of-coverage rules as a parameter (`[sectors.wireless.poc]` in network.toml).

Defaults are Helium's published values (docs/wireless-poc.md); the detection parameters (`trust`) are
opendepin's own and describe the network's nominal radio model (log-distance path loss with log-normal
shadowing).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DensityLevel(_Frozen):
    """HIP-17 parameters at one H3 resolution: neighbours N, target and max hotspots per cell."""

    n: Annotated[int, Field(ge=1)]
    target: Annotated[int, Field(ge=1)]
    max: Annotated[int, Field(ge=1)]


def _default_density() -> dict[int, DensityLevel]:
    """HIP-104: r4 (2, 500, 1000), r5 (4, 100, 200), r6 (4, 25, 50), r7 (4, 5, 10), r8-r10 (2, 1, 1)."""
    table = {4: (2, 500, 1000), 5: (4, 100, 200), 6: (4, 25, 50), 7: (4, 5, 10)}
    table.update({res: (2, 1, 1) for res in (8, 9, 10)})
    return {res: DensityLevel(n=n, target=t, max=m) for res, (n, t, m) in table.items()}


class TrustParams(_Frozen):
    """Detection beyond per-report rules (opendepin): radio model, detector thresholds, memory."""

    enabled: bool = True
    path_loss_exponent: Annotated[float, Field(gt=1, le=6)] = 3.5
    reference_loss_db: Annotated[float, Field(description="path loss at 1 m")] = 40.0
    shadowing_sigma_db: Annotated[float, Field(gt=0)] = 7.0
    sensitivity_dbm: float = -120.0
    implausible_probability: Annotated[float, Field(gt=0, lt=1)] = 1e-5
    max_direct_lag_ms: Annotated[int, Field(ge=0)] = 100
    too_close_m: Annotated[float, Field(gt=0, description="radios closer than this do not witness")] = 350.0
    too_close_sigma: Annotated[float, Field(gt=0)] = 3.0
    expected_hear_probability: Annotated[float, Field(gt=0, lt=1)] = 0.8
    silence_min_expected: Annotated[float, Field(gt=0)] = 4.0
    silence_min_owners: Annotated[int, Field(ge=1, description="counterpart owners expected this epoch")] = 3
    silence_full_ratio: Annotated[float, Field(ge=0, le=1)] = 0.05
    silence_clear_ratio: Annotated[float, Field(ge=0, le=1)] = 0.2
    implausible_min_links: Annotated[int, Field(ge=1)] = 3
    implausible_full_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    implausible_clear_share: Annotated[float, Field(ge=0, le=1)] = 0.1
    surprise_min_owners: Annotated[int, Field(ge=1)] = 3
    surprise_clear: Annotated[float, Field(gt=0)] = 3.0
    surprise_full: Annotated[float, Field(gt=0)] = 4.5
    surprise_cap: Annotated[float, Field(gt=0)] = 30.0
    geometry_min_links: Annotated[int, Field(ge=3)] = 6
    geometry_max_links: Annotated[int, Field(ge=4)] = 48
    geometry_min_offset_m: Annotated[float, Field(gt=0)] = 1_000.0
    geometry_clear_gain: Annotated[float, Field(gt=0)] = 8.0
    geometry_full_gain: Annotated[float, Field(gt=0)] = 16.0
    displaced_link_cap: Annotated[
        float, Field(gt=0, description="cap on one link's negative log-likelihood (colocated_displaced)")
    ] = 8.0
    displaced_min_hear_probability: Annotated[float, Field(gt=0, lt=1)] = 0.02
    displaced_apart_sigma: Annotated[float, Field(gt=0)] = 4.0
    displaced_clear_gain: Annotated[float, Field(gt=0)] = 4.0
    displaced_full_gain: Annotated[float, Field(gt=0)] = 10.0
    heard_elsewhere_clear_gain: Annotated[
        float, Field(gt=0, description="heard_elsewhere: gain of the fitted spot over the assertion, trust 1")
    ] = 30.0
    heard_elsewhere_full_gain: Annotated[float, Field(gt=0)] = 50.0
    heard_elsewhere_rounds: Annotated[
        int, Field(ge=1, description="heard_elsewhere: rounds of explaining away after the first, at most")
    ] = 32
    colocation_min_devices: Annotated[int, Field(ge=2)] = 3
    colocation_min_spread_m: Annotated[float, Field(gt=0)] = 1_000.0
    colocation_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.25
    colocation_min_displaced_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    common_site_min_links: Annotated[int, Field(ge=3)] = 12
    common_site_max_links: Annotated[int, Field(ge=4)] = 256
    common_site_clear_gain: Annotated[float, Field(gt=0)] = 30.0
    common_site_full_gain: Annotated[float, Field(gt=0)] = 50.0
    community_min_size: Annotated[int, Field(ge=2)] = 6
    community_owner_share: Annotated[float, Field(gt=0, le=1)] = 0.9
    community_top_owners: Annotated[int, Field(ge=1)] = 2
    owner_min_devices: Annotated[int, Field(ge=2)] = 8
    owner_internal_share: Annotated[float, Field(gt=0, le=1)] = 0.8
    owner_flagged_min: Annotated[int, Field(ge=1)] = 2
    owner_flagged_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    flag_below: Annotated[float, Field(gt=0, le=1)] = 0.5
    corroboration: bool = Field(
        default=True, description="pay a witness-graph component without an anchor only uncorroborated_share"
    )
    uncorroborated_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    corroboration_memory_epochs: Annotated[int, Field(ge=1)] = 7
    corroboration_max_piece: Annotated[
        int, Field(ge=0, description="hotspots one radio may pass an anchor's corroboration on to")
    ] = 4
    anchor_min_links: Annotated[int, Field(ge=1)] = 5
    anchor_surprise_clear: Annotated[float, Field(gt=0)] = 2.0
    anchor_surprise_full: Annotated[float, Field(gt=0)] = 3.0
    verifier_makers: list[str] = Field(
        default_factory=list,
        description="makers whose `verifier = true` attestation makes an anchor (empty: any accepted maker)",
    )
    evidence_decay: Annotated[float, Field(ge=0, lt=1, description="weight of past epochs' evidence")] = 0.5
    penalty_decay: Annotated[float, Field(ge=0, le=1, description="share of a penalty kept next epoch")] = 0.8

    @model_validator(mode="after")
    def _ordered(self) -> TrustParams:
        if self.silence_full_ratio >= self.silence_clear_ratio:
            raise ValueError("silence_full_ratio must be below silence_clear_ratio")
        if self.implausible_clear_share >= self.implausible_full_share:
            raise ValueError("implausible_clear_share must be below implausible_full_share")
        if self.geometry_clear_gain >= self.geometry_full_gain:
            raise ValueError("geometry_clear_gain must be below geometry_full_gain")
        if self.common_site_clear_gain >= self.common_site_full_gain:
            raise ValueError("common_site_clear_gain must be below common_site_full_gain")
        if self.displaced_clear_gain >= self.displaced_full_gain:
            raise ValueError("displaced_clear_gain must be below displaced_full_gain")
        if self.heard_elsewhere_clear_gain >= self.heard_elsewhere_full_gain:
            raise ValueError("heard_elsewhere_clear_gain must be below heard_elsewhere_full_gain")
        if self.anchor_surprise_clear >= self.anchor_surprise_full:
            raise ValueError("anchor_surprise_clear must be below anchor_surprise_full")
        if self.surprise_clear >= self.surprise_full:
            raise ValueError("surprise_clear must be below surprise_full")
        return self


class PocParams(_Frozen):
    """Proof-of-coverage parameters, defaults from Helium's published rules (docs/wireless-poc.md)."""

    beacon_category: str = "beacons"
    witness_category: str = "witnesses"
    entropy_period_s: Annotated[int, Field(ge=1)] = 60
    entropy_lifespan_s: Annotated[int, Field(ge=1)] = 180
    beacon_interval_s: Annotated[int, Field(ge=1, description="one beacon per bucket")] = 21_600
    full_hotspot_modes: list[str] = Field(default_factory=lambda: ["full"])
    default_mode: str = "full"
    regions: list[str] = Field(default_factory=lambda: ["EU868", "US915", "AS923", "AU915", "IN865", "KR920"])
    denylist: list[str] = Field(default_factory=list)
    denied_edges: list[tuple[str, str]] = Field(default_factory=list, description="(beaconer, witness)")
    max_witness_lag_ms: Annotated[int, Field(ge=0)] = 4_000
    max_lag_after_first_ms: Annotated[int, Field(ge=0)] = 1_500
    max_frequency_offset_hz: Annotated[int, Field(ge=0)] = 100_000
    min_witness_distance_cells: Annotated[int, Field(ge=0)] = 8
    witness_distance_resolution: Annotated[int, Field(ge=0, le=15)] = 11
    max_witness_distance_m: Annotated[float, Field(gt=0)] = 100_000.0
    default_gain_dbi: float = 1.2
    reciprocity_window_s: Annotated[int, Field(ge=0)] = 172_800
    witness_cap: Annotated[int, Field(ge=1)] = 14
    witness_redundancy: Annotated[int, Field(ge=1)] = 4
    unit_decay: Annotated[float, Field(gt=0, lt=1)] = 0.8
    unit_cap: Annotated[float, Field(gt=0)] = 2.0
    assertion_resolution: Annotated[int, Field(ge=0, le=15)] = 12
    density_base_resolution: Annotated[int, Field(ge=1, le=15)] = 11
    density_levels: dict[int, DensityLevel] = Field(default_factory=_default_density)
    density_active_window_s: Annotated[int, Field(ge=0)] = 216_000
    default_hex_scale: Annotated[float, Field(ge=0, le=1)] = 0.2
    trust: TrustParams = TrustParams()

    @model_validator(mode="after")
    def _consistent(self) -> PocParams:
        for res in self.density_levels:
            if not 0 <= res < self.density_base_resolution:
                raise ValueError(
                    f"density_levels: resolution {res} must be in 0..{self.density_base_resolution - 1}"
                )
        if self.beacon_category == self.witness_category:
            raise ValueError("beacon_category and witness_category must differ")
        return self
