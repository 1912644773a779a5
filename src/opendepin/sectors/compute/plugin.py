"""The compute sector plug-in: a job market where tenants pay from escrow, providers run deterministic jobs,
and results are spot-checked, compared across replicas and bisected. docs/compute.md."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from opendepin.sectors.base import (
    AttributeModels,
    ChallengeKind,
    IngestPolicy,
    SectorInput,
    SectorOutcome,
    SectorPlugin,
    SectorServices,
    SectorSimulation,
)
from opendepin.sectors.compute.attributes import ComputeMakerAttributes, ComputeOwnerAttributes
from opendepin.sectors.compute.challenges import (
    AUDIT,
    CANARY,
    CAPACITY,
    derive_audit,
    derive_canaries,
    derive_capacity,
)
from opendepin.sectors.compute.evaluate import evaluate_compute
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import (
    BID,
    RESULT,
    UNBOND,
    BidPayload,
    CanaryPayload,
    CapacityPayload,
    ResultPayload,
    UnbondPayload,
)
from opendepin.sectors.compute.reports import (
    CANARY as CANARY_REPORT,
)
from opendepin.sectors.compute.reports import (
    CAPACITY as CAPACITY_REPORT,
)

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter


class ComputeSector(SectorPlugin):
    """Orders, bids, leases paid from escrow every epoch; spot checks, replicas, capacity challenges."""

    name: ClassVar[str] = "compute"
    params_model: ClassVar[type[BaseModel]] = ComputeParams

    @property
    def compute(self) -> ComputeParams:
        assert isinstance(self.params, ComputeParams)
        return self.params

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        return {
            BID: BidPayload,
            RESULT: ResultPayload,
            CAPACITY_REPORT: CapacityPayload,
            CANARY_REPORT: CanaryPayload,
            UNBOND: UnbondPayload,
        }

    def ingest_policy(self, kind: str) -> IngestPolicy:
        """Device time within the network's window; `seq` unique (an agent answers challenges and delivers
        results concurrently)."""
        return IngestPolicy(seq="unique")

    def categories(self) -> Sequence[str]:
        return (self.compute.category,)

    def usage_category(self) -> str | None:
        return self.compute.usage_category or None

    def attributes(self) -> AttributeModels:
        return AttributeModels(maker=ComputeMakerAttributes, owner=ComputeOwnerAttributes)

    def challenge_kinds(self) -> Sequence[ChallengeKind]:
        """Audit seeds every `verify.audit_period_s`; the capacity challenge every `capacity.period_s`,
        seen by the next epoch too (its deadline may fall there)."""
        c = self.compute.capacity
        lookback = c.period_s + c.work_s + c.grace_s
        kinds = [
            ChallengeKind(AUDIT, self.compute.verify.audit_period_s, derive_audit, 0, True),
            ChallengeKind(CAPACITY, c.period_s, derive_capacity, lookback, True),
        ]
        k = self.compute.canary
        if k.enabled:
            job = {"kind": k.kind, "units": k.units, "size": k.size}
            derive = functools.partial(derive_canaries, rate_bps=k.rate_bps, job=job)
            kinds.append(ChallengeKind(CANARY, k.period_s, derive, k.period_s + k.deadline_s, True))
        return kinds

    def routes(self, services: SectorServices) -> APIRouter:
        from opendepin.sectors.compute.routes import build_router

        return build_router(services, self)

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        return evaluate_compute(data, self.compute)

    def simulation(self) -> SectorSimulation:
        """What compute providers do under `depin up` (`sim/simulation.py`, imported only now)."""
        from opendepin.sectors.compute.sim.simulation import ComputeSimulation

        return ComputeSimulation(self.compute)

    @classmethod
    def simulate_app(cls) -> typer.Typer:
        """`depin simulate compute`: adversary scenarios against the closed form (`sim/cli.py`)."""
        from opendepin.sectors.compute.sim.cli import build_app

        return build_app()
