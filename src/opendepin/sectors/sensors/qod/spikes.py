"""WeatherXM's spike check (SQC): a jump between consecutive samples above the model's threshold marks the
sample further from the recent median as a spike (SPIKE_INST); without enough data for a median the later
sample is an UNIDENTIFIED_SPIKE. A following sample equal to a flagged one is flagged too."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from opendepin.sectors.sensors.params import ModelProfile, exact, milli
from opendepin.sectors.sensors.qod.codes import SPIKE, UNIDENTIFIED_SPIKE, VALID
from opendepin.sectors.sensors.qod.series import Series, continuity_limit_s
from opendepin.sectors.sensors.reports import PARAMS


def jump_threshold(profile: ModelProfile, name: str, seconds: np.ndarray) -> np.ndarray:
    """The largest allowed jump (thousandths) over `seconds` between two samples: fixed per sample for a
    model without caps (M5), else the per-period threshold × Δt / period, at most the cap (Helium), toward
    zero."""
    base = milli(profile.spike[name])
    if profile.spike_cap is None or name not in profile.spike_cap:
        return np.full(seconds.shape, base, dtype=np.int64)
    period_s = 60 * profile.spike_period_min.get(name, 1)
    scaled = (base * seconds) // period_s
    return np.minimum(scaled, milli(profile.spike_cap[name]))


def check_spikes(series: Series, profile: ModelProfile) -> None:
    """Annotate SPIKE / UNIDENTIFIED_SPIKE for every parameter with a jump threshold (wind direction and
    rain have none)."""
    limit = continuity_limit_s(profile)
    window = profile.median_window_s
    for p, name in enumerate(PARAMS):
        if name not in profile.spike:
            continue
        idx = np.flatnonzero(series.present[:, p] & (series.codes[:, p] == VALID))
        if idx.size < 2:
            continue
        ts = series.ts[idx]
        values = series.values[idx, p]
        seconds = ts[1:] - ts[:-1]
        jumps = np.abs(values[1:] - values[:-1])
        candidates = np.flatnonzero((seconds <= limit) & (jumps > jump_threshold(profile, name, seconds)))
        if candidates.size == 0:
            continue
        share = exact(profile.median_min_share.get(name, 0.67))
        needed = _ceil(share * (window // profile.step_s))
        flagged = np.zeros(idx.size, dtype=bool)
        for k in candidates.tolist():
            a, b = k, k + 1
            start = int(np.searchsorted(ts, ts[b] - window, side="right"))
            count = b + 1 - start
            if count >= needed and count > 0:
                med = int(np.sort(values[start : b + 1])[(count - 1) // 2])
                wrong = b if abs(int(values[b]) - med) >= abs(int(values[a]) - med) else a
                code = SPIKE
            else:
                wrong, code = b, UNIDENTIFIED_SPIKE
            if flagged[wrong]:
                continue
            flagged[wrong] = True
            series.codes[idx[wrong], p] = code
            follow = wrong + 1
            while follow < idx.size and values[follow] == values[wrong] and not flagged[follow]:
                flagged[follow] = True
                series.codes[idx[follow], p] = code
                follow += 1


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)
