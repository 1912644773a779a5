"""Device attributes the compute sector reads (docs/onboarding.md, "Attributes").

The maker attests the hardware (CPU cores, memory, the GPU model if any); the owner states the benchmark
the provider agent measured when it started (SHA-256 hashes per second over all cores), which the hourly
capacity challenge then holds it to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ComputeMakerAttributes(BaseModel):
    """What the maker attests."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cpu_cores: Annotated[int, Field(ge=1, le=4_096)]
    memory_mb: Annotated[int, Field(ge=64, le=16_777_216)]
    gpu_model: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ComputeOwnerAttributes(BaseModel):
    """What the owner states: the benchmark measured at start (hashes per second, all cores)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    benchmark_hps: Annotated[int, Field(ge=1, le=10**15)]


@dataclass(frozen=True, slots=True)
class Hardware:
    """A provider's signed attributes as the market reads them (missing: 0 / no GPU)."""

    cpu_cores: int
    memory_mb: int
    gpu_model: str
    benchmark_hps: int

    @classmethod
    def of(cls, attributes: Mapping[str, Any]) -> Hardware:
        def number(name: str) -> int:
            value = attributes.get(name, 0)
            return value if type(value) is int and value > 0 else 0

        gpu = attributes.get("gpu_model")
        return cls(
            number("cpu_cores"),
            number("memory_mb"),
            gpu if isinstance(gpu, str) else "",
            number("benchmark_hps"),
        )

    @property
    def is_provider(self) -> bool:
        """Rule: a device is a compute provider when its maker attested cores and memory and its owner a
        benchmark."""
        return self.cpu_cores > 0 and self.memory_mb > 0 and self.benchmark_hps > 0
