"""Deterministic jobs split into units: the same bytes on every machine (docs/compute.md, "Jobs").

A job is `{kind, seed, units, size}`; unit i's output is at most 64 bytes and depends only on the job and
i, so two honest providers return identical outputs and the engine can recompute any unit to check one.
Everything is integer arithmetic (no floating point, no BLAS reduction order), like Gensyn's RepOps:

- `hashchain`: unit i iterates SHA-256 `size` times from SHA-256("hashchain" ‖ seed ‖ i); output: the last
  digest (32 bytes).
- `matmul` (numpy): unit i draws two `size`×`size` matrices of bytes from SHAKE-256(seed ‖ i), multiplies
  them in int64 and then multiplies the product (mod 2^16) by the second matrix three more times; output:
  SHA-256 of the final matrix (little-endian int64).
- `mlp` (inference of the model shipped with the package, `mlp_weights.npz`): unit i classifies `size`
  inputs of 64 int8 features drawn from SHAKE-256(seed ‖ i) with a 64→32→16→10 integer MLP (int8 weights,
  int32 accumulation, ReLU, right shift by 6, clip to 0..127); output: one class byte per input.

Run k of a recurring order runs the job with seed SHA-256("run" ‖ seed ‖ k).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

MAX_OUTPUT_BYTES = 64
KINDS = ("hashchain", "matmul", "mlp")
SIZE_LIMITS = {"hashchain": (1, 5_000_000), "matmul": (4, 192), "mlp": (1, MAX_OUTPUT_BYTES)}
MATMUL_ROUNDS = 3
MLP_FEATURES = 64
MLP_SHIFT = 6


class JobError(ValueError):
    """A job that cannot run: unknown kind, size or units out of range, malformed seed."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to compute: `units` units of `kind` at `size`, from `seed` (64 hex digits)."""

    kind: str
    seed: str
    units: int
    size: int

    def to_map(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "units": self.units, "size": self.size}

    @classmethod
    def from_map(cls, value: Any, max_units: int = 128) -> JobSpec:
        """Validate a job map; raises JobError naming the problem."""
        if not isinstance(value, Mapping) or set(value) != {"kind", "seed", "units", "size"}:
            raise JobError("a job is a map with keys kind, seed, units, size")
        kind, seed, units, size = value["kind"], value["seed"], value["units"], value["size"]
        if kind not in KINDS:
            raise JobError(f"job kind must be one of {list(KINDS)}")
        if not isinstance(seed, str) or len(seed) != 64 or seed != seed.lower():
            raise JobError("job seed must be 64 lower-case hex digits")
        try:
            bytes.fromhex(seed)
        except ValueError:
            raise JobError("job seed must be 64 lower-case hex digits") from None
        if type(units) is not int or not 1 <= units <= max_units:
            raise JobError(f"job units must be an integer in 1..{max_units}")
        low, high = SIZE_LIMITS[kind]
        if type(size) is not int or not low <= size <= high:
            raise JobError(f"{kind} size must be an integer in {low}..{high}")
        return cls(kind, seed, units, size)

    def for_run(self, run: int) -> JobSpec:
        """The job of run `run` of a recurring order (run 0 is the job itself)."""
        if run == 0:
            return self
        seed = hashlib.sha256(b"run" + bytes.fromhex(self.seed) + run.to_bytes(8, "big")).hexdigest()
        return JobSpec(self.kind, seed, self.units, self.size)


def _unit_bytes(job: JobSpec, index: int, label: bytes, length: int) -> bytes:
    return hashlib.shake_256(label + bytes.fromhex(job.seed) + index.to_bytes(4, "big")).digest(length)


def _hashchain(job: JobSpec, index: int) -> bytes:
    digest = hashlib.sha256(b"hashchain" + bytes.fromhex(job.seed) + index.to_bytes(4, "big")).digest()
    sha = hashlib.sha256
    for _ in range(job.size):
        digest = sha(digest).digest()
    return digest


def _matmul(job: JobSpec, index: int) -> bytes:
    import numpy as np

    n = job.size
    a = np.frombuffer(_unit_bytes(job, index, b"matmul-a", n * n), dtype=np.uint8).astype(np.int64)
    b = np.frombuffer(_unit_bytes(job, index, b"matmul-b", n * n), dtype=np.uint8).astype(np.int64)
    a, b = a.reshape(n, n), b.reshape(n, n)
    product = a @ b
    for _ in range(MATMUL_ROUNDS):
        product = (product & 0xFFFF) @ b
    return hashlib.sha256(product.astype("<i8").tobytes()).digest()


@cache
def mlp_weights() -> tuple[Any, ...]:
    """(W1, b1, W2, b2, W3, b3) of the shipped model, as int32 arrays."""
    import numpy as np

    with resources.files(__package__).joinpath("mlp_weights.npz").open("rb") as handle:
        data = np.load(handle, allow_pickle=False)
        return tuple(data[name].astype(np.int32) for name in ("w1", "b1", "w2", "b2", "w3", "b3"))


def _mlp(job: JobSpec, index: int) -> bytes:
    import numpy as np

    w1, b1, w2, b2, w3, b3 = mlp_weights()
    raw = _unit_bytes(job, index, b"mlp-x", job.size * MLP_FEATURES)
    x = np.frombuffer(raw, dtype=np.int8).astype(np.int32).reshape(job.size, MLP_FEATURES)
    h1 = np.clip((np.maximum(x @ w1 + b1, 0)) >> MLP_SHIFT, 0, 127)
    h2 = np.clip((np.maximum(h1 @ w2 + b2, 0)) >> MLP_SHIFT, 0, 127)
    logits = h2 @ w3 + b3
    return bytes(np.argmax(logits, axis=1).astype(np.uint8).tolist())


_RUNNERS = {"hashchain": _hashchain, "matmul": _matmul, "mlp": _mlp}


def run_unit(job: JobSpec, index: int) -> bytes:
    """The output of unit `index` (0 ≤ index < units)."""
    if not 0 <= index < job.units:
        raise JobError(f"unit {index} is not in 0..{job.units - 1}")
    return _RUNNERS[job.kind](job, index)


def run_job(job: JobSpec) -> list[bytes]:
    """Every unit's output, in order."""
    return [run_unit(job, i) for i in range(job.units)]


KNOWN_UNITS = 4_096
"""Unit outputs the engine keeps (`known_unit`): a day's canaries and spot checks many times over."""


@lru_cache(maxsize=KNOWN_UNITS)
def known_unit(job: JobSpec, index: int) -> bytes:
    """`run_unit`, remembered. The engine recomputes the same units each time the book is evaluated (the
    market asks it several times an hour: canaries' known outputs, spot checks, re-executions); a unit's
    output depends on nothing but `job` and `index`, so the answer is the one `run_unit` gives."""
    return run_unit(job, index)


def unit_work(job: JobSpec) -> int:
    """A rough measure of one unit's work (SHA-256 compressions or multiply-adds / 16), for price hints."""
    if job.kind == "hashchain":
        return job.size
    if job.kind == "matmul":
        return (MATMUL_ROUNDS + 1) * job.size**3 // 16
    return job.size * (64 * 32 + 32 * 16 + 16 * 10) // 16
