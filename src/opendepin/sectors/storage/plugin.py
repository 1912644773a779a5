"""The storage sector plug-in: providers store erasure-coded pieces, are audited like Storj, and are paid
for the byte-hours they keep (emission) and what clients pay them (usage). docs/storage.md."""

from __future__ import annotations

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
from opendepin.sectors.storage.attributes import StorageOwnerAttributes
from opendepin.sectors.storage.audit import AUDIT, derive_audits
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import (
    DELETE,
    PING,
    PROOF,
    PUT,
    RENEW,
    DeletePayload,
    PingPayload,
    ProofPayload,
    PutPayload,
    RenewPayload,
)

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter


class StorageSector(SectorPlugin):
    """Storj-style audits and reputation, Merkle proofs of retrievability, pay from usage and emission."""

    name: ClassVar[str] = "storage"
    params_model: ClassVar[type[BaseModel]] = StorageParams

    @property
    def storage(self) -> StorageParams:
        assert isinstance(self.params, StorageParams)
        return self.params

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        return {
            PUT: PutPayload,
            DELETE: DeletePayload,
            PROOF: ProofPayload,
            PING: PingPayload,
            RENEW: RenewPayload,
        }

    def ingest_policy(self, kind: str) -> IngestPolicy:
        """Every kind: device time within the network's window, `seq` unique (answers go out in parallel)."""
        return IngestPolicy(seq="unique")

    def categories(self) -> Sequence[str]:
        return (self.storage.category,)

    def usage_category(self) -> str | None:
        return self.storage.usage_category or None

    def usage_countersigned(self) -> bool:
        """A receipt pays only when the provider countersigned it (it stored or served the bytes)."""
        return self.storage.receipts_countersigned

    def attributes(self) -> AttributeModels:
        return AttributeModels(owner=StorageOwnerAttributes)

    def challenge_kinds(self) -> Sequence[ChallengeKind]:
        """One audit per period, issued by the scheduler at the period's start (a deadline runs from it)."""
        return (ChallengeKind(AUDIT, self.storage.audit_period_s, derive_audits, 0, True),)

    def routes(self, services: SectorServices) -> APIRouter:
        from opendepin.sectors.storage.routes import build_router

        return build_router(services, self.storage)

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        return evaluate_storage(data, self.storage)

    def simulation(self) -> SectorSimulation:
        """Simulated providers for `depin up` (`sim/simulation.py`, imported only when asked for)."""
        from opendepin.sectors.storage.sim.simulation import StorageSimulation

        return StorageSimulation(self.storage)

    @classmethod
    def simulate_app(cls) -> typer.Typer:
        """`depin simulate storage`: adversary scenarios (`sim/cli.py`)."""
        from opendepin.sectors.storage.sim.cli import build_app

        return build_app()
