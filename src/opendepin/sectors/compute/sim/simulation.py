"""What compute providers do in the generic fleet of `depin up` (the sector's `SectorSimulation`).

Every simulated provider is onboarded with attested hardware (maker: cores and memory) and the benchmark
its owner states (`benchmark_hps`). The simulated machines are deliberately tiny: an honest provider really
hashes `TRUE_HPS` hashes per second, so a capacity answer costs `TRUE_HPS · work_s` real SHA-256 hashes.
Each hour, at its end, every provider up reads the node's capacity challenge and really hashes its share
(`challenges.solve_capacity` over `TRUE_HPS · work_s` nonces, against the target its *claimed* benchmark
sets), and answers every canary job the node addressed to it by really running the job's units
(`jobs.run_job`) and committing their Merkle root.

Sector misbehaviours (the sector simulator's strategies, `depin simulate compute`):
- `compute-lazy` returns random outputs for every unit (under a root that matches them): caught by the
  known answer of its canaries (`compute.canary_missed`), disqualified after two;
- `compute-partial` is 95 % honest: it skips ⌈0.05 · n⌉ units of every job (random outputs there), as the
  simulator's `partial_95` strategy: caught the same way on every canary it gets;
- `compute-overclaim` states twice the speed it has: its answers hold about half the solutions the claim
  needs (`compute.benchmark_failed`), so it never builds the streak availability pays from.

The fleet sends an hour's reports at its end (received about an hour after the challenge): the network
must let answers arrive within the hour (`capacity.grace_s`, `canary.deadline_s`; examples/compute.toml
does). Tenants' orders are not simulated here: an order's escrow is its tenant's, funded by usage
receipts the tenant pays, and the fleet's users (who hold the credits) are not keys this simulation has;
docs/compute.md says what that leaves out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.compute.challenges import CANARY, CAPACITY, capacity_target, solve_capacity
from opendepin.sectors.compute.jobs import JobSpec, run_job
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import CANARY as CANARY_REPORT
from opendepin.sectors.compute.reports import CAPACITY as CAPACITY_REPORT
from opendepin.sectors.compute.reports import MAX_SOLUTIONS

LAZY = "compute-lazy"
PARTIAL = "compute-partial"
OVERCLAIM = "compute-overclaim"
TRUE_HPS = 10
"""Hashes per second a simulated provider really does (tiny, so `depin up` stays fast)."""
OVERCLAIM_FACTOR = 2
PARTIAL_SKIP = 0.05
CPU_CORES = 4
MEMORY_MB = 8_192


def claimed_hps(behaviour: str) -> int:
    """The benchmark the provider's owner states: its real speed, or `OVERCLAIM_FACTOR` times it."""
    return TRUE_HPS * OVERCLAIM_FACTOR if behaviour == OVERCLAIM else TRUE_HPS


def skipped_units(behaviour: str, units: int) -> int:
    """Units of a job the provider does not compute: all (lazy), ⌈0.05 · n⌉ (partial), none (honest)."""
    if behaviour == LAZY:
        return units
    if behaviour == PARTIAL:
        return math.ceil(PARTIAL_SKIP * units)
    return 0


def output_length(job: JobSpec) -> int:
    """Bytes of one unit's output: a SHA-256 digest (hashchain, matmul), one class per input (mlp)."""
    return job.size if job.kind == "mlp" else 32


def answer_job(job: JobSpec, behaviour: str, rng: random.Random) -> list[bytes]:
    """The outputs the provider returns for `job`: the real ones, with its skipped units (drawn by `rng`)
    random bytes of the same length instead (a lazy provider computes nothing)."""
    skip = skipped_units(behaviour, job.units)
    if skip == job.units:
        return [rng.randbytes(output_length(job)) for _ in range(job.units)]
    outputs = run_job(job)
    for index in rng.sample(range(job.units), skip):
        outputs[index] = rng.randbytes(len(outputs[index]))
    return outputs


class ComputeSimulation(SectorSimulation):
    """Providers that answer capacity challenges and canary jobs, honestly or as a strategy cheats."""

    def __init__(self, params: ComputeParams) -> None:
        self.params = params

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {
            LAZY: "compute.canary_missed",
            PARTIAL: "compute.canary_missed",
            OVERCLAIM: "compute.benchmark_failed",
            "lazy": "compute.benchmark_failed",
        }

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return (
            {"cpu_cores": CPU_CORES, "memory_mb": MEMORY_MB},
            {"benchmark_hps": claimed_hps(device.behaviour)},
        )

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        if not devices:
            return []
        c = self.params.capacity
        capacity = list(services.challenges(CAPACITY)) if c.enabled else []
        canaries = list(services.challenges(CANARY)) if self.params.canary.enabled else []
        by_device: dict[str, list[Any]] = {}
        for canary in canaries:
            if canary.device is not None:
                by_device.setdefault(canary.device, []).append(canary)
        reports: list[SimReport] = []
        for device in devices:
            for challenge in capacity:
                target = capacity_target(claimed_hps(device.behaviour), c.work_s, c.expected_solutions)
                nonces = solve_capacity(
                    challenge.challenge_id, device.device_id, target, TRUE_HPS * c.work_s, limit=MAX_SOLUTIONS
                )
                payload = {"challenge": challenge.challenge_id, "nonces": nonces}
                reports.append(SimReport(device.index, CAPACITY_REPORT, hour_ts + c.work_s, payload))
            for canary in by_device.get(device.device_id, []):
                rng = random.Random(f"{device.seed}:compute:canary:{device.index}:{canary.challenge_id}")
                job = JobSpec.from_map(dict(canary.payload))
                outputs = answer_job(job, device.behaviour, rng)
                payload = {
                    "challenge": canary.challenge_id,
                    "root": outputs_root(outputs).hex(),
                    "outputs": outputs,
                }
                reports.append(SimReport(device.index, CANARY_REPORT, hour_ts + c.work_s + 1, payload))
        return reports
