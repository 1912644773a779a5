"""Static radio neighbourhood of a fleet: which real radios could ever hear each other, and their terrain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opendepin.sectors.wireless.poc.geo import pairs_within
from opendepin.sectors.wireless.sim.fleet import Fleet, Policy
from opendepin.sectors.wireless.sim.propagation import RadioPhysics

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RadioLinks:
    """Ordered pairs (src → dst) of radios within maximum range, sorted by src, with static shadowing."""

    src: IntArray
    dst: IntArray
    distance_m: FloatArray
    shadowing_db: FloatArray
    starts: IntArray
    """Row range of src i is [starts[i], starts[i + 1])."""

    def of(self, src: int) -> slice:
        return slice(int(self.starts[src]), int(self.starts[src + 1]))


def build_radio_links(fleet: Fleet, physics: RadioPhysics, rng: np.random.Generator) -> RadioLinks:
    """Pairs of real radios closer than the maximum range; symmetric log-normal shadowing per pair.

    A virtual group (`Fleet.virtual`: a faithful ring without radios) gets the links its members would have
    among themselves if they stood at their assertions, and none with anyone else; a real radio of the same
    group that forges physically (a bridge) gets its links with the ring's virtual members too.
    """
    radios = np.flatnonzero(fleet.has_radio)
    radius = physics.max_range_m(2 * float(fleet.gain_dbi.max()))
    left, right = pairs_within(fleet.real_xy[radios], radius)
    src, dst = radios[left], radios[right]
    virtual = np.flatnonzero(fleet.virtual)
    if len(virtual):
        rings = np.isin(fleet.group, fleet.group[virtual]) & (fleet.group >= 0)
        members = np.flatnonzero(fleet.virtual | (rings & (fleet.policy == Policy.FORGE_PHYSICAL)))
        v_left, v_right = pairs_within(fleet.real_xy[members], radius)
        same = fleet.group[members[v_left]] == fleet.group[members[v_right]]
        same &= fleet.virtual[members[v_left]] | fleet.virtual[members[v_right]]
        src = np.concatenate([src, members[v_left[same]]])
        dst = np.concatenate([dst, members[v_right[same]]])
    n = fleet.size
    keys = np.minimum(src, dst) * n + np.maximum(src, dst)
    unique, inverse = np.unique(keys, return_inverse=True)
    shadowing = rng.normal(0.0, physics.shadowing_sigma_db, len(unique))[inverse]
    order = np.lexsort((dst, src))
    src, dst, shadowing = src[order], dst[order], shadowing[order]
    distance = np.sqrt(((fleet.real_xy[src] - fleet.real_xy[dst]) ** 2).sum(axis=1))
    starts = np.searchsorted(src, np.arange(n + 1))
    return RadioLinks(src, dst, distance, shadowing, starts.astype(np.int64))
