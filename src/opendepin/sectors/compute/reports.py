"""Report kinds of the compute sector (all signed by the provider device).

- `compute.bid`: a bid on an order: the tenant's signed order (so the engine re-checks it), the price per
  unit the provider asks and the deposit it puts up from its bond;
- `compute.result`: one run of a lease: the output of every unit and the Merkle root over their hashes
  (merkle.py); the engine spot-checks units drawn after the result arrived;
- `compute.canary`: the answer to a canary job the network sent the provider (known to the engine);
- `compute.capacity`: the answer to an hourly capacity challenge: nonces whose hashes fall under the
  target the provider's claimed benchmark sets (capacity.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from opendepin.sectors.compute.jobs import MAX_OUTPUT_BYTES

BID = "compute.bid"
RESULT = "compute.result"
CAPACITY = "compute.capacity"
CANARY = "compute.canary"
UNBOND = "compute.unbond"

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_UNITS = 128
MAX_SOLUTIONS = 512


class BidPayload(BaseModel):
    """A provider's bid: `price` credits per unit, `deposit` credits locked from its bond."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    order: Annotated[bytes, Field(min_length=1, max_length=1_024)]
    order_sig: Annotated[bytes, Field(min_length=65, max_length=65)]
    price: Annotated[int, Field(ge=1, le=2**62)]
    deposit: Annotated[int, Field(ge=0, le=2**62)]


class ResultPayload(BaseModel):
    """Run `run` of the lease the provider holds on `order`: every unit's output and their root."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    order: Hex32
    run: Annotated[int, Field(ge=0, le=1_000_000)]
    root: Hex32
    outputs: Annotated[
        list[Annotated[bytes, Field(max_length=MAX_OUTPUT_BYTES)]], Field(min_length=1, max_length=MAX_UNITS)
    ]


class CanaryPayload(BaseModel):
    """The answer to canary `challenge`: every unit's output and their root."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    challenge: Hex32
    root: Hex32
    outputs: Annotated[
        list[Annotated[bytes, Field(max_length=MAX_OUTPUT_BYTES)]], Field(min_length=1, max_length=MAX_UNITS)
    ]


class CapacityPayload(BaseModel):
    """The answer to capacity challenge `challenge`: distinct nonces under the provider's target."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    challenge: Hex32
    nonces: Annotated[list[Annotated[int, Field(ge=0, le=2**63 - 1)]], Field(max_length=MAX_SOLUTIONS)]


class UnbondPayload(BaseModel):
    """`compute.unbond`: withdraw `amount` credits of the device's bond (to its owner's escrow account)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    amount: Annotated[int, Field(ge=1, le=2**62)]
