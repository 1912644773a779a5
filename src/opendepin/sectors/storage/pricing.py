"""What clients pay providers, in data credits (exact integers; `StorageParams` holds the rates).

Rules (docs/storage.md, "Paying"):
- storing: a put carries a usage receipt for byte-hours prepaid; it costs ⌈byte-hours × credits_per_gb_hour
  / 10⁹⌉ credits, at least 1 (a receipt spends at least one credit);
- downloading: each piece fetched carries a receipt for its bytes: ⌈bytes × credits_per_gb_egress / 10⁹⌉,
  at least 1;
- repairing: a piece fetched to rebuild a segment pays its own rate, ⌈bytes × credits_per_gb_repair / 10⁹⌉,
  at least 1 (unit `repair_bytes`);
- a provider refuses a receipt that pays less than this for what it covers.
"""

from __future__ import annotations

GB = 10**9
STORED_UNIT = "byte_hours"
EGRESS_UNIT = "egress_bytes"
REPAIR_UNIT = "repair_bytes"


def storage_credits(byte_hours: int, credits_per_gb_hour: int) -> int:
    """Credits for `byte_hours` of storage, rounded up, at least 1."""
    return max(1, -(-byte_hours * credits_per_gb_hour // GB))


def egress_credits(size: int, credits_per_gb_egress: int) -> int:
    """Credits for downloading `size` bytes, rounded up, at least 1."""
    return max(1, -(-size * credits_per_gb_egress // GB))


def repair_credits(size: int, credits_per_gb_repair: int) -> int:
    """Credits for fetching `size` bytes to repair a segment, rounded up, at least 1."""
    return max(1, -(-size * credits_per_gb_repair // GB))
