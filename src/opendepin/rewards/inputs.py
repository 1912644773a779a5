"""Everything an epoch depends on besides the network parameters (docs/epoch-bundle.md, "Inputs").

An epoch is a pure function of these inputs and the money-deciding parameters: the node gathers them from
its store, an epoch bundle carries them to anyone who wants to recompute the epoch without the node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, DeviceInfo, EpochWindow


@dataclass(frozen=True)
class EpochInputs:
    """The inputs of one epoch.

    `reports` are the accepted reports with device time in the window (each with the time the node received
    it, which the rules may use); `devices` the registry snapshot at the window's end with the signed
    `onboarding` record of each device; `prior_*` what the previous epoch left; `context` what the shell
    served during the window (challenge entropy); `rejections` the ingest rejections by reason received in
    the window (reported by the node, not recomputable from the accepted reports).
    """

    window: EpochWindow
    devices: Mapping[str, DeviceInfo]
    reports: Sequence[ReportRecord]
    prior_cumulative: Mapping[str, int] = field(default_factory=dict)
    prior_state: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    onboarding: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rejections: Mapping[str, int] = field(default_factory=dict)
    usage: Sequence[UsageRecord] = ()
    """Usage receipts accepted in the window (by receive time): who paid which device how many credits."""
    price_wad: int | None = None
    """The oracle's token price at the window's end, USD per whole token × 10**18 (None: no oracle)."""
    challenges: Mapping[str, Sequence[Challenge]] = field(default_factory=dict)
    """Per sector, the challenges issued in the window (and the lookback of their kinds)."""
    prior_device_state: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    """Per sector, per device, the state the sector last stored for it."""

    @cached_property
    def device_rows(self) -> list[list[Any]]:
        """`device_snapshot` of the devices and their onboarding records, made once: the digest and the
        stored record both write it (a million devices take 6 s each time). Read-only."""
        return device_snapshot(self.devices, self.onboarding)


def device_snapshot(
    devices: Mapping[str, DeviceInfo], onboarding: Mapping[str, Mapping[str, Any]] | None = None
) -> list[list[Any]]:
    """Devices as sorted rows: id, key type, owner, maker, location, onboarded_at, attributes, and the
    signed onboarding record (maker and owner signatures) when known. The rows hold the devices' own
    attribute and record dicts (copied only when they are other mappings): they are read, never changed
    (a million devices: 8.2 -> 4.4 s, with the ids sorted alone rather than as (id, device) pairs)."""
    onboarding = onboarding or {}
    empty: dict[str, Any] = {}
    return [
        [
            d.device_id,
            d.key_type,
            d.owner,
            d.maker,
            d.location,
            d.onboarded_at,
            as_dict(d.attributes),
            as_dict(onboarding.get(d.device_id, empty)),
        ]
        for d in map(devices.__getitem__, sorted(devices))
    ]


def as_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as the plain dict a published row holds: itself when it is one (not a copy per device or
    row: a million copies are a gigabyte), else a copy."""
    return mapping if type(mapping) is dict else dict(mapping)
