"""Digests that pin an epoch's inputs and parameters (DESIGN.md principle 2)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from opendepin.config import NetworkConfig
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the byte form every digest is taken over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (tuple, set, frozenset)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not part of a canonical digest")


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def reward_params(config: NetworkConfig) -> dict[str, Any]:
    """The parts of network.toml that decide money (not where data is stored or which chain settles)."""
    from opendepin.sectors.registry import load_sectors

    dumped = config.model_dump(mode="json")
    params = {key: dumped[key] for key in ("name", "token", "emission", "epochs", "rewards")}
    # Sector tables as validated (defaults filled in), so an explicit default and an omitted one agree.
    params["sectors"] = {
        name: plugin.params.model_dump(mode="json") for name, plugin in sorted(load_sectors(config).items())
    }
    return params


def compute_params_digest(config: NetworkConfig) -> str:
    return sha256_hex(canonical_json(reward_params(config)))


def device_snapshot(devices: Mapping[str, DeviceInfo]) -> list[list[Any]]:
    """Devices as sorted rows (id, key type, owner, maker, location, onboarded_at)."""
    return [
        [d.device_id, d.key_type, d.owner, d.maker, d.location, d.onboarded_at]
        for _, d in sorted(devices.items())
    ]


def compute_inputs_digest(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    prior_cumulative: Mapping[str, int],
    prior_state: Mapping[str, Any],
    context: Mapping[str, Any],
) -> str:
    """SHA-256 over the report ids (each the hash of its signed bytes), devices, prior state and context."""
    body = {
        "reports": sorted(r.report_id for r in reports),
        "devices": device_snapshot(devices),
        "prior_cumulative": sorted([owner, str(amount)] for owner, amount in prior_cumulative.items()),
        "prior_state": prior_state,
        "context": context,
    }
    return sha256_hex(canonical_json(body))
