"""Late uploads and open hours: each hour of a station is scored once, from all its samples, in the first
epoch that closes it; context carries runs across the epoch's edge."""

from __future__ import annotations

from opendepin.sectors.base import EpochWindow
from opendepin.sectors.sensors.buffer import gather, next_buffer_state
from opendepin.sectors.sensors.params import SensorsParams, ws2000
from opendepin.sectors.sensors.reports import FIELDS, PARAMS
from opendepin.sectors.sensors.weather import process_weather
from tests.sectors.sensors.helpers import weather_report

DAY = 86_400
FIELD_NAMES = [FIELDS[p] for p in PARAMS]


def _sample(ts: int, received: int | None = None, t: float = 15.0) -> object:
    k = ts // 180  # every parameter moves a little from one sample to the next
    return weather_report(
        "st",
        ts,
        received,
        temperature_c=t + (k % 7) / 100,
        humidity_pct=60.0 + (k % 5) / 10,
        pressure_hpa=1000.0 + (k % 3) / 100,
        wind_speed_ms=3.0 + (k % 4) / 10,
        wind_dir_deg=float(k % 360),
        solar_wm2=0.0,
        rain_acc_mm=0.0,
    )


def test_an_open_hour_is_held_then_scored_once_next_epoch() -> None:
    params = SensorsParams()
    first = EpochWindow(0, 0, DAY)
    second = EpochWindow(1, DAY, 2 * DAY)
    # the last hour of day 0 ends at DAY: within the grace period, so held
    reports = [_sample(ts) for ts in range(0, DAY, 180)]
    got = gather(reports, FIELD_NAMES, {}, first, params.max_upload_delay_s, params.hour_grace_s)
    assert got.hours == list(range(0, DAY - 3_600, 3_600))
    assert len(got.held) == 20 and {h for _, h in got.held_reports} == {DAY - 3_600}
    state = next_buffer_state(got, first, params.max_upload_delay_s, params.context_s)
    later = gather(
        [_sample(ts) for ts in range(DAY, 2 * DAY, 180)],
        FIELD_NAMES,
        state,
        second,
        params.max_upload_delay_s,
        params.hour_grace_s,
    )
    assert later.hours[0] == DAY - 3_600 and later.hours[-1] == 2 * DAY - 7_200
    # a sample of an hour scored before is refused with its reason, and a duplicate too
    again = gather(
        [_sample(3_600), _sample(DAY + 180), _sample(DAY + 180)],
        FIELD_NAMES,
        next_buffer_state(later, second, params.max_upload_delay_s, params.context_s),
        EpochWindow(2, 2 * DAY, 3 * DAY),
        params.max_upload_delay_s,
        params.hour_grace_s,
    )
    assert [v.reason for v in again.verdicts] == ["sensors.hour_already_scored"] * 3
    stale = gather(
        [_sample(180)],
        FIELD_NAMES,
        {},
        EpochWindow(5, 5 * DAY, 6 * DAY),
        params.max_upload_delay_s,
        params.hour_grace_s,
    )
    assert [v.reason for v in stale.verdicts] == ["sensors.too_late"]
    duplicate = gather(
        [_sample(DAY + 180), _sample(DAY + 180, received=DAY + 900)],
        FIELD_NAMES,
        {},
        second,
        params.max_upload_delay_s,
        params.hour_grace_s,
    )
    assert [v.reason for v in duplicate.verdicts] == ["sensors.duplicate_sample"]


def test_a_stuck_run_across_the_epoch_edge_is_caught() -> None:
    params = SensorsParams()
    profile = ws2000()
    first, second = EpochWindow(0, 0, DAY), EpochWindow(1, DAY, 2 * DAY)

    # pressure stuck from 23:00 on day 0 to 01:30 on day 1: over 2 hours (its short window), across the edge
    def day(start: int) -> list[object]:
        out = []
        for ts in range(start, start + DAY, 180):
            r = _sample(ts)
            if DAY - 3_600 <= ts < DAY + 5_400:
                r.payload["pressure_hpa"] = 1001.0  # type: ignore[index]
            out.append(r)
        return out

    one = process_weather(day(0), {}, first, params, profile, None, 0)
    assert "pressure" not in one.annotations  # the stuck hour is held, not yet judged
    two = process_weather(day(DAY), one.state, second, params, profile, None, 0)
    assert two.annotations["pressure"]["SHORT_CONST"] >= 40
    assert two.flagged_hours["pressure"] == 3


def test_the_model_attribute_picks_the_profile() -> None:
    """A WS1000 (16-second samples) fills 225 slots an hour; the same hour at WS2000's 3 minutes, 20."""
    params = SensorsParams()
    window = EpochWindow(0, 0, DAY)
    for model, step, slots in (("WS1000", 16, 225), ("WS2000", 180, 20)):
        profile = params.profile(model)
        assert profile.step_s == step and profile.slots_per_hour == slots
        reports = [_sample(ts) for ts in range(0, 3 * 3_600, step)]
        epoch = process_weather(reports, {}, window, params, profile, None, 0)
        assert epoch.hours == [0, 3_600, 7_200]
        assert epoch.scores.quality() == 1 and epoch.scores.available_hours() == 3
    assert params.profile(None) == params.profile("unknown") == params.models[params.default_model]
