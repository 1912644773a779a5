"""A simulated fleet: who owns which hotspot, where it really is, where it claims to be, how it reports."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from opendepin.sectors.wireless.sim.geometry import MapFrame
from opendepin.sectors.wireless.sim.onboarding import GAINS_DBI

FloatArray = npt.NDArray[np.float64]
HONEST = "honest"


class Policy(IntEnum):
    """How a hotspot reports the witnesses it hears."""

    TRUTHFUL = 0
    CLAMP_TO_FSPL = 1
    """Reports min(true RSSI, Helium's free-space bound at the asserted distance − 1 dB)."""
    FORGE_MODEL = 2
    """Reports the RSSI the nominal model expects at the asserted distance (plus noise)."""
    FORGE_PHYSICAL = 3
    """Physically faithful: a group mate's beacon is reported with the RSSI the true physics would give at
    the asserted distance (static per-pair shadowing, fresh fading, site offsets, sensitivity respected);
    anyone else's beacon with its true RSSI clamped under the free-space bound. A group without radios
    (virtual) is simulated at its asserted spots and heard only by its own members."""


@dataclass(frozen=True, slots=True)
class RelayOperation:
    """A beacon relay: a capture hotspot near A, a transmitter at B, colluding witnesses near B."""

    capture: int
    witnesses: tuple[int, ...]
    transmitter_xy: tuple[float, float]


@dataclass(slots=True)
class FleetBuilder:
    """Accumulates devices; `build` turns them into a :class:`Fleet` with H3 assertions."""

    rng: np.random.Generator
    frame: MapFrame
    cities: FloatArray
    roles: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    real: list[tuple[float, float]] = field(default_factory=list)
    claimed: list[tuple[float, float]] = field(default_factory=list)
    radio: list[bool] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    relays: list[RelayOperation] = field(default_factory=list)
    later: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Late cheaters: device index → the spot it re-asserts from `cheat_from_epoch` on."""
    cheat_from: dict[int, int] = field(default_factory=dict)
    """Device index → the first epoch it cheats in (absent: from the start)."""
    verifiers: set[int] = field(default_factory=set)
    """Maker-attested verifier hotspots (network-operated radios that cannot be made up)."""
    next_group: int = 0

    def add(
        self,
        role: str,
        owner: str,
        real: tuple[float, float],
        claimed: tuple[float, float],
        radio: bool = True,
        policy: Policy = Policy.TRUTHFUL,
        group: int = -1,
    ) -> int:
        """Add one device; returns its index."""
        self.roles.append(role)
        self.owners.append(owner)
        self.real.append(real)
        self.claimed.append(claimed)
        self.radio.append(radio)
        self.policies.append(policy)
        self.groups.append(group)
        return len(self.roles) - 1

    def new_group(self) -> int:
        self.next_group += 1
        return self.next_group - 1

    def random_place(self, city_share: float = 0.75) -> tuple[float, float]:
        """A realistic spot: mostly around a city centre (σ 2.5–5 km), else anywhere on the map."""
        size = self.frame.size_m
        if self.rng.random() < city_share:
            city = self.cities[self.rng.integers(len(self.cities))]
            point = city[:2] + self.rng.normal(0.0, city[2], 2)
        else:
            point = self.rng.uniform(0.0, size, 2)
        return float(np.clip(point[0], 0, size)), float(np.clip(point[1], 0, size))

    def build(self, assertion_resolution: int) -> Fleet:
        """Freeze into a Fleet; assertions become H3 cells and the verifier-visible cell centres."""
        n = len(self.roles)
        claimed_xy = np.array(self.claimed, dtype=np.float64).reshape(n, 2)
        cells = self.frame.to_cells(claimed_xy, assertion_resolution)
        width = len(str(max(n - 1, 0)))
        later_xy = claimed_xy.copy()
        for index, spot in self.later.items():
            later_xy[index] = spot
        later_cells = self.frame.to_cells(later_xy, assertion_resolution)
        return Fleet(
            ids=[f"hs{i:0{width}d}" for i in range(n)],
            roles=list(self.roles),
            owners=list(self.owners),
            real_xy=np.array(self.real, dtype=np.float64).reshape(n, 2),
            asserted=cells,
            asserted_xy=self.frame.cell_xy(cells),
            gain_dbi=self.rng.choice(GAINS_DBI, n),
            site_db=self.rng.normal(0.0, 2.0, n),
            sensitivity_dbm=self.rng.normal(-120.0, 1.0, n),
            has_radio=np.array(self.radio, dtype=bool),
            policy=np.array(self.policies, dtype=np.int64),
            group=np.array(self.groups, dtype=np.int64),
            relays=list(self.relays),
            later_asserted=later_cells,
            later_asserted_xy=self.frame.cell_xy(later_cells),
            cheat_from=np.array([self.cheat_from.get(k, 0) for k in range(n)], dtype=np.int64),
            verifier=np.array([k in self.verifiers for k in range(n)], dtype=bool),
        )


@dataclass(frozen=True, slots=True)
class Fleet:
    """The fleet of one simulation run (ground truth the verifier never sees: real positions, roles)."""

    ids: list[str]
    roles: list[str]
    owners: list[str]
    real_xy: FloatArray
    asserted: list[str]
    asserted_xy: FloatArray
    gain_dbi: FloatArray
    site_db: FloatArray
    sensitivity_dbm: FloatArray
    has_radio: npt.NDArray[np.bool_]
    policy: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    relays: list[RelayOperation]
    later_asserted: list[str] = field(default_factory=list)
    """Assertions from each device's `cheat_from` epoch on (late cheaters re-assert; others unchanged)."""
    later_asserted_xy: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    cheat_from: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    verifier: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def virtual(self) -> npt.NDArray[np.bool_]:
        """Hotspots without a radio that simulate one faithfully at their assertion (heard by mates only)."""
        return ~self.has_radio & (self.policy == Policy.FORGE_PHYSICAL)

    def at_epoch(self, epoch: int) -> Fleet:
        """The fleet as the network sees it in `epoch`: late cheaters re-assert from their first cheating
        epoch on (before it they are honest: truthful reports at their real spot)."""
        if not len(self.later_asserted):
            return self
        moved = self.cheat_from <= epoch
        late = self.cheat_from > 0
        asserted = [
            self.later_asserted[k] if moved[k] and late[k] else self.asserted[k] for k in range(self.size)
        ]
        xy = np.where((moved & late)[:, None], self.later_asserted_xy, self.asserted_xy)
        policy = np.where(late & ~moved, int(Policy.TRUTHFUL), self.policy)
        return replace(self, asserted=asserted, asserted_xy=xy, policy=policy)

    @property
    def adversarial(self) -> npt.NDArray[np.bool_]:
        return np.array([role != HONEST for role in self.roles], dtype=bool)


def make_cities(rng: np.random.Generator, frame: MapFrame, count: int = 6) -> FloatArray:
    """City centres (x, y) and spreads σ (metres), rows of 3."""
    centres = rng.uniform(0.12 * frame.size_m, 0.88 * frame.size_m, (count, 2))
    return np.column_stack([centres, rng.uniform(2_500.0, 5_000.0, count)])
