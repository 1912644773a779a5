"""One station's samples as integer arrays, sorted by device time: what every QoD check reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opendepin.sectors.sensors.params import ModelProfile

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class Series:
    """`ts[n]` device times (strictly increasing), `values[n, p]` in thousandths, `present[n, p]` whether the
    sample holds parameter p, `scored[n]` whether the sample is scored now (False: context kept from earlier
    epochs), `codes[n, p]` the annotations the checks write (0 = valid)."""

    ts: IntArray
    values: IntArray
    present: BoolArray
    scored: BoolArray
    codes: npt.NDArray[np.uint8]

    @classmethod
    def of(cls, ts: IntArray, values: IntArray, present: BoolArray, scored: BoolArray) -> Series:
        return cls(ts, values, present, scored, np.zeros(values.shape, dtype=np.uint8))

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def continuity_limit_s(profile: ModelProfile) -> int:
    """Two samples are consecutive (a jump between them is checked, a constant run goes on) when at most
    this far apart: the next slot (with WeatherXM's half-step tolerance) after a gap bridged by the fill."""
    return profile.step_s + profile.fill_s + profile.step_s // 2
