"""The deployment factor: WeatherXM's Indoor Station Detector (ISD), with neighbours added.

Each epoch a station's sun-up samples (true sun elevation above 7°) are compared with the clear-sky
irradiance there (`solar.py`): a sample is sunlit when it measures at least `sunlit_ratio` of clear sky; CR
is the share of sunlit samples. The day's class:

- ALMOST_NIGHT when the sun was up for no expected sample; UNKNOWN when at most 40 % of the expected sun-up
  samples hold a valid irradiance (neither votes);
- CR = 0: INDOORS when the neighbours saw the sun (their median CR ≥ `sunny_neighbours_share`) or when the
  station shows the indoor signature (daily temperature range below `indoor_t_range_c`, calm wind);
  otherwise an overcast day, UNKNOWN (ours: WeatherXM would call it indoors, a cause of its operators'
  complaints about the ISD);
- 0 < CR < 40 %: ALMOST_INDOORS with the indoor signature; BAD_DEPLOYMENT (obstructed) when the neighbours
  saw the sun; otherwise UNKNOWN;
- CR ≥ 40 %: OUTDOORS, or on a clear day (neighbours' median CR ≥ `clear_day_share`) the ratio of measured
  to clear-sky irradiance tells a tilted mast (0.3–0.67 INCLINED_NORTH, 1.05–1.4 INCLINED_SOUTH) or a faulty
  light sensor (> 1.5, PROBABLY_BAD).

The station's class is the majority of its voting days among the last `history_days` epochs (ties to the
lower score); UNKNOWN when at least 4 of 7 of those days did not vote. Its score comes from WeatherXM's
table (OUTDOORS 1, INDOORS and ALMOST_INDOORS 0, BAD_DEPLOYMENT 0.29, PROBABLY_BAD 0.43, INCLINED 0.86).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from opendepin.sectors.sensors.params import DeploymentParams, exact
from opendepin.sectors.sensors.weather import SunStats

NO_VOTE = ("UNKNOWN", "ALMOST_NIGHT")


def lower_median_fraction(values: Sequence[Fraction]) -> Fraction | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def classify_day(
    sun: SunStats,
    t_range_milli: int | None,
    wind_median_milli: int | None,
    neighbour_shares: Sequence[Fraction],
    min_neighbours: int,
    params: DeploymentParams,
) -> tuple[str, dict[str, Any]]:
    """The day's class and the numbers behind it."""
    evidence: dict[str, Any] = {"sun_expected": sun.expected, "sun_samples": sun.present, "sunlit": sun.lit}
    if sun.expected == 0 or Fraction(sun.clear, max(sun.present, 1) * 1000) <= exact(params.almost_night_wm2):
        return "ALMOST_NIGHT", evidence
    if sun.present * 1000 <= exact(params.min_data_share) * 1000 * sun.expected:
        return "UNKNOWN", evidence
    cr = Fraction(sun.lit, sun.present)
    neighbours = lower_median_fraction(neighbour_shares) if len(neighbour_shares) >= min_neighbours else None
    evidence |= {"cr": str(cr), "neighbours_cr": None if neighbours is None else str(neighbours)}
    signature = (
        t_range_milli is not None
        and wind_median_milli is not None
        and t_range_milli < exact(params.indoor_t_range_c) * 1000
        and wind_median_milli < 500
    )
    evidence |= {
        "t_range_milli": t_range_milli,
        "wind_median_milli": wind_median_milli,
        "indoor_signature": signature,
    }
    sunny = neighbours is not None and neighbours >= exact(params.sunny_neighbours_share)
    if cr == 0:
        return ("INDOORS" if sunny or signature else "UNKNOWN"), evidence
    if cr < exact(params.obstructed_share):
        if signature:
            return "ALMOST_INDOORS", evidence
        return ("BAD_DEPLOYMENT" if sunny else "UNKNOWN"), evidence
    clear_day = neighbours is not None and neighbours >= exact(params.clear_day_share)
    if clear_day and sun.clear > 0:
        ratio = Fraction(sun.measured, sun.clear)
        evidence["measured_to_clear"] = f"{float(ratio):.3f}"
        if ratio > exact(params.faulty_light_ratio):
            return "PROBABLY_BAD", evidence
        north, south = params.tilt_north, params.tilt_south
        if exact(north[0]) <= ratio <= exact(north[1]):
            return "INCLINED_NORTH", evidence
        if exact(south[0]) <= ratio <= exact(south[1]):
            return "INCLINED_SOUTH", evidence
    return "OUTDOORS", evidence


def station_class(history: Sequence[str], params: DeploymentParams) -> tuple[str, Fraction]:
    """The majority class of the last `history_days` days and its score."""
    recent = list(history)[-params.history_days :]
    votes = [c for c in recent if c not in NO_VOTE]
    silent = len(recent) - len(votes)
    if not votes or silent * 7 >= 4 * params.history_days:
        return "UNKNOWN", exact(params.scores.get("UNKNOWN", 1.0))
    counts = Counter(votes)
    best = max(counts.values())
    tied = [c for c in counts if counts[c] == best]
    chosen = min(tied, key=lambda c: (exact(params.scores.get(c, 1.0)), c))
    return chosen, exact(params.scores.get(chosen, 1.0))
