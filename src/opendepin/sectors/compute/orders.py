"""Orders: what a tenant wants computed, on what hardware, at what price, signed by the tenant.

An order is deterministic CBOR (RFC 8949 §4.2) of `{v, tenant, job, requirements, max_price, budget,
replicas, runs, deadline_s, ts, nonce}`; its id is the SHA-256 of those bytes; the tenant signs, with its
EVM key (EIP-191 personal message), the text `opendepin compute order\\norder: 0x<id>`. Providers carry the
signed order in their bids (`compute.bid`), so every epoch that judges a bid re-checks the tenant's
signature: nobody can invent an order, change its price or its job.

- `job`: `{kind, seed, units, size}` (jobs.py); `requirements`: `{cpu_cores, memory_mb, gpu_model,
  benchmark_hps}` the provider's signed attributes must meet (`gpu_model` "" for any);
- `max_price`: credits per unit the tenant pays at most (providers are paid their own bid);
- `budget`: credits the tenant lets the order hold in escrow at most;
- `replicas`: providers that run every run (r-way redundancy); `runs`: how many times the job runs (run k
  with its own seed, jobs.JobSpec.for_run); `deadline_s`: how long a provider has for one run;
- `ts`: the order's time (bids count until `ts` + the bid window); `nonce`: any integer (two otherwise
  identical orders differ by it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import cbor2

from opendepin.identity.wallets import WalletError, normalize_address, recover_text_signer
from opendepin.sectors.compute.jobs import JobError, JobSpec

ORDER_VERSION = 1
ORDER_KEYS = frozenset(
    {
        "v",
        "tenant",
        "job",
        "requirements",
        "max_price",
        "budget",
        "replicas",
        "runs",
        "deadline_s",
        "ts",
        "nonce",
    }
)
REQUIREMENT_KEYS = frozenset({"cpu_cores", "memory_mb", "gpu_model", "benchmark_hps"})
MAX_ORDER_BYTES = 1_024
MAX_INT = 2**63 - 1


class OrderError(ValueError):
    """An order that cannot be accepted; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Requirements:
    cpu_cores: int = 1
    memory_mb: int = 64
    gpu_model: str = ""
    benchmark_hps: int = 0

    def to_map(self) -> dict[str, Any]:
        return {
            "cpu_cores": self.cpu_cores,
            "memory_mb": self.memory_mb,
            "gpu_model": self.gpu_model,
            "benchmark_hps": self.benchmark_hps,
        }


@dataclass(frozen=True, slots=True)
class Order:
    tenant: str
    job: JobSpec
    requirements: Requirements
    max_price: int
    budget: int
    replicas: int
    runs: int
    deadline_s: int
    ts: int
    nonce: int

    def to_map(self) -> dict[str, Any]:
        return {
            "v": ORDER_VERSION,
            "tenant": self.tenant,
            "job": self.job.to_map(),
            "requirements": self.requirements.to_map(),
            "max_price": self.max_price,
            "budget": self.budget,
            "replicas": self.replicas,
            "runs": self.runs,
            "deadline_s": self.deadline_s,
            "ts": self.ts,
            "nonce": self.nonce,
        }

    def encode(self) -> bytes:
        return bytes(cbor2.dumps(self.to_map(), canonical=True))

    @property
    def order_id(self) -> str:
        return compute_order_id(self.encode())

    def run_cost(self, price: int) -> int:
        """Credits one provider earns for one run at `price` per unit."""
        return price * self.job.units


def compute_order_id(order_bytes: bytes) -> str:
    return hashlib.sha256(order_bytes).hexdigest()


def order_message(order_id: str) -> str:
    """The text the tenant signs (EIP-191)."""
    return f"opendepin compute order\norder: 0x{order_id}"


def sign_order(order: Order, sign_text: Any) -> tuple[bytes, bytes]:
    """(order bytes, signature) with `sign_text(text) -> signature` (e.g. `Wallet.sign_text`)."""
    data = order.encode()
    return data, bytes(sign_text(order_message(compute_order_id(data))))


def _int(value: Any, name: str, low: int, high: int = MAX_INT) -> int:
    if type(value) is not int or not low <= value <= high:
        raise OrderError("compute.bad_order", f"order {name} must be an integer in {low}..{high}")
    return value


def _requirements(value: Any) -> Requirements:
    if not isinstance(value, dict) or set(value) != REQUIREMENT_KEYS:
        raise OrderError(
            "compute.bad_order", f"order requirements are a map with keys {sorted(REQUIREMENT_KEYS)}"
        )
    gpu = value["gpu_model"]
    if not isinstance(gpu, str) or len(gpu) > 64:
        raise OrderError("compute.bad_order", "requirements.gpu_model must be text of at most 64 characters")
    return Requirements(
        _int(value["cpu_cores"], "requirements.cpu_cores", 0, 4_096),
        _int(value["memory_mb"], "requirements.memory_mb", 0),
        gpu,
        _int(value["benchmark_hps"], "requirements.benchmark_hps", 0),
    )


def parse_order(value: Any, max_units: int = 128, max_replicas: int = 5, max_runs: int = 100_000) -> Order:
    """Check a decoded order map against the format and the network's limits."""
    if not isinstance(value, dict) or set(value) != ORDER_KEYS:
        raise OrderError("compute.bad_order", f"an order is a map with keys {sorted(ORDER_KEYS)}")
    if type(value["v"]) is not int or value["v"] != ORDER_VERSION:
        raise OrderError("compute.bad_order", f"order version must be {ORDER_VERSION}")
    try:
        tenant = normalize_address(value["tenant"])
        job = JobSpec.from_map(value["job"], max_units)
    except (WalletError, JobError) as error:
        raise OrderError("compute.bad_order", str(error)) from None
    if tenant != value["tenant"]:
        raise OrderError("compute.bad_order", "the tenant address must be in checksum form")
    return Order(
        tenant=tenant,
        job=job,
        requirements=_requirements(value["requirements"]),
        max_price=_int(value["max_price"], "max_price", 1),
        budget=_int(value["budget"], "budget", 1),
        replicas=_int(value["replicas"], "replicas", 1, max_replicas),
        runs=_int(value["runs"], "runs", 1, max_runs),
        deadline_s=_int(value["deadline_s"], "deadline_s", 1),
        ts=_int(value["ts"], "ts", 0),
        nonce=_int(value["nonce"], "nonce", 0),
    )


def decode_order(order_bytes: bytes, signature: bytes, **limits: int) -> Order:
    """Decode and check a signed order: canonical CBOR, well-formed, within `limits`, signed by its
    tenant. Never raises anything but OrderError."""
    if len(order_bytes) > MAX_ORDER_BYTES:
        raise OrderError("compute.bad_order", f"an order is at most {MAX_ORDER_BYTES} bytes")
    try:
        value = cbor2.loads(order_bytes)
        canonical = cbor2.dumps(value, canonical=True) == order_bytes
    except Exception as error:  # cbor2 raises many types for hostile bytes
        raise OrderError("compute.bad_order", f"the order is not CBOR: {type(error).__name__}") from None
    if not canonical:
        raise OrderError("compute.bad_order", "the order is not deterministic CBOR")
    order = parse_order(value, **limits)
    signer = recover_text_signer(order_message(compute_order_id(order_bytes)), signature)
    if signer != order.tenant:
        raise OrderError(
            "compute.bad_order_signature", f"the order is not signed by its tenant {order.tenant}"
        )
    return order
