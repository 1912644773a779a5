"""Run one job in an isolated subprocess with CPU, memory and time limits (the provider agent's sandbox).

`run_isolated(job, limits)` starts `python -I -m opendepin.sectors.compute.client.runner` in a new session
with an empty environment, hands it the job on stdin, and before the interpreter starts applies (resource
module) RLIMIT_CPU (CPU seconds), RLIMIT_AS (address space), RLIMIT_NOFILE and RLIMIT_CORE = 0; the parent
kills it at the wall-clock limit. The child prints each unit's output as hex, one JSON list. A job that hits
a limit raises `JobFailed` with the cause, so the agent never reports a result it did not compute.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass

from opendepin.sectors.compute.jobs import JobSpec, run_job


class JobFailed(RuntimeError):
    """The job hit a limit or crashed; `cause` is `cpu`, `memory`, `timeout` or `crash`."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"{cause}: {detail}")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_s: int = 300
    memory_mb: int = 1_024
    wall_s: float = 600.0


def _limit(limits: Limits) -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    memory = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def run_isolated(job: JobSpec, limits: Limits) -> list[bytes]:
    """Every unit's output, computed in a limited child process."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-I", "-m", "opendepin.sectors.compute.client.runner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: _limit(limits),
        start_new_session=True,
    )
    try:
        out, err = process.communicate(json.dumps(job.to_map()).encode(), timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise JobFailed("timeout", f"over {limits.wall_s} s of wall time") from None
    if process.returncode != 0:
        code = process.returncode
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and b"MemoryError" not in err:
            raise JobFailed("cpu", f"over {limits.cpu_s} CPU seconds (signal {-code})")
        if any(m in err for m in (b"MemoryError", b"Cannot allocate", b"failed to map segment")):
            raise JobFailed("memory", f"over {limits.memory_mb} MB")
        raise JobFailed("crash", err.decode(errors="replace")[-300:])
    return [bytes.fromhex(h) for h in json.loads(out)]


def main() -> None:
    job = JobSpec.from_map(json.loads(sys.stdin.read()))
    sys.stdout.write(json.dumps([o.hex() for o in run_job(job)]))


if __name__ == "__main__":
    main()
