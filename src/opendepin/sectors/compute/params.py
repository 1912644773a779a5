"""Parameters of the compute sector (`[sectors.compute]` of network.toml, docs/compute.md).

Every constant that decides money is a field: the market (take rate, bid window, deposits, limits), the
verification policy (spot checks, re-execution probability, audit period), the capacity challenge and the
reputation. Rates are integers in basis points (1/10,000) or parts per million, so every
amount is exact.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BPS = 10_000
PPM = 1_000_000
JobKind = Literal["hashchain", "matmul", "mlp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketParams(_Strict):
    """The open marketplace: orders, bids with deposits, leases paid from escrow."""

    take_bps: Annotated[int, Field(ge=0, le=5_000)] = 500
    """Share of every release from escrow the protocol keeps (never re-minted to the provider)."""
    bid_window_s: Annotated[int, Field(ge=1, le=86_400)] = 30
    """Bids count when received within this long after the order's time (or after it reopened)."""
    funding_window_s: Annotated[int, Field(ge=1, le=7 * 86_400)] = 300
    """After a match, how long the tenant has to hold enough credits in escrow before the order closes."""
    max_bids_per_order: Annotated[int, Field(ge=1, le=1_000)] = 20
    min_deposit: Annotated[int, Field(ge=0)] = 0
    """Smallest bid deposit, in credits."""
    deposit_bps: Annotated[int, Field(ge=0, le=100_000)] = 5_000
    """A bid's deposit is at least this share of one run of the lease (price × units); slashed when the
    provider is caught cheating or abandons the lease."""
    order_deposit_bps: Annotated[int, Field(ge=0, le=100_000)] = 1_000
    """The tenant's order deposit, a share of the first run's reserve: returned when the order ends, paid
    to its providers when the order closes for insufficient funds."""
    max_units: Annotated[int, Field(ge=1, le=128)] = 128
    max_replicas: Annotated[int, Field(ge=1, le=5)] = 3
    max_runs: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    max_deadline_s: Annotated[int, Field(ge=1)] = 86_400
    unbond_notice_s: Annotated[int, Field(ge=0, le=365 * 86_400)] = 7 * 86_400
    """A bond withdrawal (`compute.unbond`) is released at the first epoch end this long after it was asked
    for, and only when the provider has no live bid or active lease; until then the amount bids nothing
    and stays slashable."""
    retention_s: Annotated[int, Field(ge=0)] = 7 * 86_400
    """Finished orders are dropped from the carried state this long after they end."""


class VerifyParams(_Strict):
    """How results are checked (docs/compute.md, "Verification")."""

    spot_checks: Annotated[int, Field(ge=1, le=128)] = 2
    """Units the engine recomputes per delivered result, drawn after the result is committed."""
    reexec_bps: Annotated[int, Field(ge=0, le=BPS)] = 1_000
    """Probability (basis points) that a run is re-executed whole by another provider."""
    audit_period_s: Annotated[int, Field(ge=10, le=86_400)] = 600
    """A run committed at t is audited with the seed of the first audit period starting after t (short
    periods, down to 10 s, let a test network pay a run within a minute-long epoch)."""


class CapacityParams(_Strict):
    """The hourly capacity challenge: hash for `work_s` seconds, show the solutions (challenges.py)."""

    enabled: bool = True
    period_s: Annotated[int, Field(ge=60, le=86_400)] = 3_600
    work_s: Annotated[int, Field(ge=1, le=3_600)] = 60
    expected_solutions: Annotated[int, Field(ge=1, le=400)] = 256
    """Solutions the claimed speed finds in `work_s` on average (sets each provider's target)."""
    min_solutions: Annotated[int, Field(ge=1, le=400)] = 192
    """A pass needs this many: 4 standard deviations under 256, so an honest provider fails about 3 times in
    100,000 and one at 1/1.2 of its claim about 7 times in 100."""
    grace_s: Annotated[int, Field(ge=0, le=86_400)] = 10
    """Answers count until `work_s` + this after the challenge (polling and the network)."""
    min_streak: Annotated[int, Field(ge=0, le=1_000)] = 5
    """Availability pays only from this many consecutive passed challenges on."""


class CanaryParams(_Strict):
    """Canary jobs with known answers the network sends to providers (challenges.derive_canaries)."""

    enabled: bool = True
    period_s: Annotated[int, Field(ge=60, le=86_400)] = 3_600
    rate_bps: Annotated[int, Field(ge=0, le=BPS)] = 1_000
    """Share of providers that get a canary each period."""
    kind: JobKind = "hashchain"
    units: Annotated[int, Field(ge=1, le=16)] = 4
    size: Annotated[int, Field(ge=1, le=100_000)] = 20_000
    deadline_s: Annotated[int, Field(ge=60, le=86_400)] = 900


class ReputationParams(_Strict):
    """Decayed Beta reputation (the same update as storage's): score = α / (α + β)."""

    decay_ppm: Annotated[int, Field(ge=1, le=PPM)] = 999_000
    alpha0: Annotated[int, Field(ge=1)] = 1_000
    success_weight: Annotated[int, Field(ge=0)] = 1
    failure_weight: Annotated[int, Field(ge=0)] = 1
    fraud_weight: Annotated[int, Field(ge=0)] = 25
    """Weight of a proven wrong answer (spot check failed, mismatch lost, bad root)."""
    dq_ppm: Annotated[int, Field(ge=0, le=PPM)] = 960_000
    """A provider whose score falls to this is disqualified for good."""


class ComputeParams(_Strict):
    """`[sectors.compute]`."""

    category: str = "compute_availability"
    usage_category: str = "compute_usage"
    market: MarketParams = MarketParams()
    verify: VerifyParams = VerifyParams()
    capacity: CapacityParams = CapacityParams()
    canary: CanaryParams = CanaryParams()
    reputation: ReputationParams = ReputationParams()

    @model_validator(mode="after")
    def _spot_checks_fit(self) -> ComputeParams:
        if self.verify.spot_checks > self.market.max_units:
            raise ValueError("verify.spot_checks must be ≤ market.max_units")
        if self.capacity.min_solutions > self.capacity.expected_solutions:
            raise ValueError("capacity.min_solutions must be ≤ capacity.expected_solutions")
        return self
