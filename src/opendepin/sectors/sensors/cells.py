"""Cell capacity with ranking, and grouping against Sybils.

Stations are counted per H3 cell (resolution 7, about 5 km², WeatherXM's) and kind (weather, air quality).
Stations of one owner in a cell, and stations anchored within `colocated_m` of each other, form one
group (ours, against Sybils: twelve stations on one roof are one station's worth of data). Groups are ranked
by their best score (quality × availability × location), then by seniority (the earliest anchor), then by
device id; the first `capacity` groups are paid (WeatherXM's MAX_CAPACITY_REACHED beyond), and the stations
of a paid group share its slot equally (each gets 1/n of its own reward).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from opendepin.sectors.sensors.geometry import distances_m


@dataclass(frozen=True, slots=True)
class Candidate:
    device_id: str
    owner: str
    cell: str
    kind: str
    anchor: tuple[int, int]
    score: Fraction
    since: int


@dataclass(frozen=True, slots=True)
class CellOutcome:
    """A station's cell scaling (1/group size, or 0 beyond capacity), rank and group."""

    scaling: Fraction
    rank: int
    group_size: int
    group_reason: str
    capacity: int
    stations_in_cell: int


def group_stations(candidates: list[Candidate], colocated_m: int) -> list[list[Candidate]]:
    """Groups of one kind: stations of one owner in one cell, and stations anchored within `colocated_m`
    of each other in any cell (a roof on a cell border is still one roof), joined transitively."""
    members = sorted(candidates, key=lambda m: m.device_id)
    parent = {m.device_id: m.device_id for m in members}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_owner: dict[tuple[str, str], list[str]] = defaultdict(list)
    for m in members:
        by_owner[(m.owner, m.cell)].append(m.device_id)
    for ids in by_owner.values():
        for other in ids[1:]:
            union(ids[0], other)
    if members and colocated_m > 0:
        lats = np.array([m.anchor[0] for m in members], dtype=np.int64)
        lons = np.array([m.anchor[1] for m in members], dtype=np.int64)
        for i, a in enumerate(members):
            close = np.flatnonzero(
                distances_m(lats[i + 1 :], lons[i + 1 :], a.anchor[0], a.anchor[1]) <= colocated_m
            )
            for j in close.tolist():
                union(a.device_id, members[i + 1 + j].device_id)
    grouped: dict[str, list[Candidate]] = defaultdict(list)
    for m in members:
        grouped[find(m.device_id)].append(m)
    return list(grouped.values())


def _order(member: Candidate) -> tuple[Fraction, int, str]:
    return (-member.score, member.since, member.device_id)


def rank_cells(
    candidates: list[Candidate], capacity: int, colocated_m: int
) -> dict[tuple[str, str], CellOutcome]:
    """Every candidate's cell outcome, by (device, kind). A group competes in the cell of its best member
    (score, then seniority, then device id); the groups of a cell are ranked by the same key."""
    by_kind: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_kind[c.kind].append(c)
    out: dict[tuple[str, str], CellOutcome] = {}
    for members in by_kind.values():
        by_cell: dict[str, list[list[Candidate]]] = defaultdict(list)
        for group in group_stations(members, colocated_m):
            by_cell[min(group, key=_order).cell].append(group)
        for groups in by_cell.values():
            groups.sort(key=lambda g: _order(min(g, key=_order)))
            in_cell = sum(len(g) for g in groups)
            for rank, group in enumerate(groups):
                owners = {m.owner for m in group}
                reason = "alone" if len(group) == 1 else ("owner" if len(owners) == 1 else "colocated")
                paid = rank < capacity
                for m in group:
                    out[(m.device_id, m.kind)] = CellOutcome(
                        Fraction(1, len(group)) if paid else Fraction(0),
                        rank + 1,
                        len(group),
                        reason,
                        capacity,
                        in_cell,
                    )
    return out
