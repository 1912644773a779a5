"""The sensors sector plug-in: weather and air-quality stations whose data is checked against physics and
against their neighbours, paid per epoch for the quality of what they measured (docs/sensors.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from opendepin.sectors.base import (
    AttributeModels,
    IngestPolicy,
    SectorInput,
    SectorOutcome,
    SectorPlugin,
    SectorServices,
    SectorSimulation,
)
from opendepin.sectors.sensors.attributes import SensorsMakerAttributes, SensorsOwnerAttributes
from opendepin.sectors.sensors.evaluate import evaluate_sensors
from opendepin.sectors.sensors.params import SensorsParams
from opendepin.sectors.sensors.reports import REPORT_KINDS

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter


class SensorsSector(SectorPlugin):
    """WeatherXM's quality of data ported exactly, plus neighbours, clones, location hysteresis and cells."""

    name: ClassVar[str] = "sensors"
    params_model: ClassVar[type[BaseModel]] = SensorsParams

    @property
    def sensors(self) -> SensorsParams:
        assert isinstance(self.params, SensorsParams)
        return self.params

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        return dict(REPORT_KINDS)

    def ingest_policy(self, kind: str) -> IngestPolicy:
        """Stations buffer while offline and upload late: every kind counts in the epoch it arrives in, up to
        `max_upload_delay_s` after it was measured; `seq` unique (late and live uploads interleave)."""
        return IngestPolicy(
            max_past_seconds=self.sensors.max_upload_delay_s, assign_by="receive_time", seq="unique"
        )

    def categories(self) -> Sequence[str]:
        return (self.sensors.category,)

    def usage_category(self) -> str | None:
        return self.sensors.usage_category or None

    def attributes(self) -> AttributeModels:
        return AttributeModels(maker=SensorsMakerAttributes, owner=SensorsOwnerAttributes)

    def routes(self, services: SectorServices) -> APIRouter:
        """The data API (`routes.py`): latest observations, hourly series, a bounding box."""
        from opendepin.sectors.sensors.routes import build_router

        return build_router(services, self.sensors)

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        return evaluate_sensors(data, self.sensors)

    def simulation(self) -> SectorSimulation:
        """Simulated stations for `depin up` (`sim/simulation.py`, imported only when asked for)."""
        from opendepin.sectors.sensors.sim.simulation import SensorsSimulation

        return SensorsSimulation(self.sensors)

    @classmethod
    def simulate_app(cls) -> typer.Typer:
        """`depin simulate sensors`: the adversary scenarios (`sim/cli.py`)."""
        from opendepin.sectors.sensors.sim.cli import build_app

        return build_app()
