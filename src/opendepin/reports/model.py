"""Plain records of reports as the core and the sectors see them (decoded, signature already checked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """An accepted report: id (hash of the signed envelope bytes), kind, device, device time, seq, payload."""

    report_id: str
    kind: str
    device_id: str
    ts: int
    seq: int
    payload: Mapping[str, Any]
    received_at: int
