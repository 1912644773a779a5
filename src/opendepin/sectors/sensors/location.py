"""Proof of location with hysteresis (ours, after WeatherXM's proof of location and its operators'
complaint that GPS jitter at a cell border "moved" stations that never moved).

A station is paid at its anchor: first the centre of the cell its owner asserted at onboarding. Each epoch
the median of its accurate fixes (3-D fix, enough satellites, small HDOP) is compared with the anchor:

- within `move_m`: located (confidence 1);
- farther: displaced (`sensors.location_unverified`, confidence 0) — jitter and short trips end here;
- displaced for `move_days` in a row: a real move (`sensors.relocated`): the anchor becomes the measured
  position, seniority restarts, confidence stays 0 for `relocation_zero_days` (WeatherXM's PoL = 0 after a
  move). A station asserted where it is not thus earns nothing until it has "moved" to where its GPS says it
  is, and then competes in that cell.
- no accurate fix in the epoch: not located (`sensors.no_location_fix`, confidence 0), as WeatherXM needs
  one accurate GPS packet a day.

Medians are lower medians of the e7 coordinates taken separately (integers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, DeviceInfo, EpochWindow, Verdict
from opendepin.sectors.sensors.geometry import cell_at, cell_centre_e7, distance_m, parent_cell, to_e7
from opendepin.sectors.sensors.params import LocationParams

DAY = 86_400


@dataclass(slots=True)
class Located:
    """What the epoch knows of a station's place."""

    anchor: tuple[int, int] | None
    cell: str | None
    confidence: int
    """1 or 0 (location confidence, PoL)."""
    since: int
    """Seniority: onboarding, or the last real move."""
    state: dict[str, Any]
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def lower_median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def is_accurate(payload: Mapping[str, Any], params: LocationParams) -> bool:
    """A fix counts when it is 3-D, uses at least `min_sats` satellites and its HDOP is at most `max_hdop`."""
    return (
        int(payload["fix_type"]) == 3
        and int(payload["sats"]) >= params.min_sats
        and float(payload["hdop"]) <= params.max_hdop
    )


def initial_state(device: DeviceInfo, params: LocationParams) -> dict[str, Any]:
    """Before any epoch: anchored at the asserted cell's centre, seniority from onboarding."""
    if device.location is None:
        return {"anchor": None, "cell": None, "since": device.onboarded_at}
    lat, lon = cell_centre_e7(device.location)
    return {
        "anchor": [lat, lon],
        "cell": parent_cell(device.location, params.cell_resolution),
        "since": device.onboarded_at,
    }


def locate(
    device: DeviceInfo,
    fixes: Sequence[ReportRecord],
    prior: Mapping[str, Any] | None,
    window: EpochWindow,
    params: LocationParams,
) -> Located:
    """The station's anchor, cell, confidence and seniority after this epoch's fixes."""
    state = dict(prior) if prior else initial_state(device, params)
    verdicts = []
    accurate: list[tuple[int, int]] = []
    for report in sorted(fixes, key=lambda r: (r.ts, r.report_id)):
        payload = report.payload
        if is_accurate(payload, params):
            accurate.append((to_e7(payload["lat"]), to_e7(payload["lon"])))
            verdicts.append(Verdict(report.report_id, OK, {}))
        else:
            evidence = {k: payload[k] for k in ("fix_type", "sats", "hdop")}
            limits = {"min_sats": params.min_sats, "max_hdop": params.max_hdop, "fix_type": 3}
            verdicts.append(
                Verdict(report.report_id, "sensors.fix_inaccurate", {**evidence, "limits": limits})
            )
    since = int(state.get("since", device.onboarded_at))
    anchor = state.get("anchor")
    located = Located(tuple(anchor) if anchor else None, state.get("cell"), 0, since, state, verdicts)
    cooldown = state.get("cooldown_until")
    if not accurate:
        located.notes.append(("sensors.no_location_fix", {"fixes": len(fixes), "accurate": 0}))
        return located
    position = (lower_median([a for a, _ in accurate]), lower_median([b for _, b in accurate]))
    located.evidence = {"fixes": len(accurate), "median_e7": list(position)}
    if anchor is None:  # no asserted location: the first measured position becomes the anchor
        return _move(located, position, window, params, first=True)
    offset = distance_m(anchor[0], anchor[1], position[0], position[1])
    located.evidence["offset_m"] = offset
    if offset <= params.move_m:
        state["away_since"] = None
        if cooldown is not None and window.end <= int(cooldown):
            located.notes.append(("sensors.relocation_cooldown", {"until": int(cooldown)}))
            return located
        located.confidence = 1
        return located
    away = state.get("away_since")
    away_since = window.start if away is None else int(away)
    state["away_since"] = away_since
    if window.end - away_since >= params.move_days * DAY:
        return _move(located, position, window, params, first=False, offset=offset)
    located.notes.append(
        ("sensors.location_unverified", {"offset_m": offset, "limit_m": params.move_m, "since": away_since})
    )
    return located


def _move(
    located: Located,
    position: tuple[int, int],
    window: EpochWindow,
    params: LocationParams,
    first: bool,
    offset: int | None = None,
) -> Located:
    state = located.state
    state["anchor"] = list(position)
    state["cell"] = cell_at(position[0], position[1], params.cell_resolution)
    state["away_since"] = None
    state["since"] = window.end
    state["cooldown_until"] = window.end + params.relocation_zero_days * DAY
    state["moves"] = int(state.get("moves", 0)) + (0 if first else 1)
    located.anchor, located.cell, located.since = position, state["cell"], window.end
    evidence = {"cell": state["cell"], "offset_m": offset, "zero_until": state["cooldown_until"]}
    located.notes.append(("sensors.relocated", evidence))
    return located
