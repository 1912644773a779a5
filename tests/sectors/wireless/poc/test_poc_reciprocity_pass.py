"""HIP-106 over arrays (`process_reciprocity_columns`) against the reference written witness by witness."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Verdict
from opendepin.sectors.wireless.poc.matching import BeaconEntry, WitnessEntry
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reciprocity_pass import (
    process_reciprocity,
    process_reciprocity_columns,
)
from opendepin.sectors.wireless.poc.reports import BeaconPayload

PAYLOAD = BeaconPayload(
    entropy="00",
    local_entropy="00",
    region="EU868",
    frequency_hz=868_100_000,
    tx_power_dbm=14,
    tx_ms=0,
    data="00",
)
DEVICES = [f"dev{i}" for i in range(6)]
WINDOW = 100


def _beacons(spec: list[tuple[int, int, list[tuple[int, int]]]]) -> dict[tuple[str, str], BeaconEntry]:
    beacons = {}
    for index, (beaconer, at, witnesses) in enumerate(spec):
        report = ReportRecord(f"b{index}", "wireless.beacon", DEVICES[beaconer], at, index, {}, at)
        entries = [
            WitnessEntry(f"w{index}.{k}", DEVICES[device], received, -100.0, 0, 1000.0)
            for k, (device, received) in enumerate(witnesses)
        ]
        beacons[(f"e{index}", DEVICES[beaconer])] = BeaconEntry(report, PAYLOAD, entries)
    return beacons


def _outcome(beacons: dict[tuple[str, str], BeaconEntry], verdicts: dict[str, Verdict]) -> object:
    lists = {key: [w.report_id for w in beacon.witnesses] for key, beacon in beacons.items()}
    return lists, dict(sorted(verdicts.items()))


times = st.integers(0, 400)
beacon_specs = st.lists(
    st.tuples(
        st.integers(0, 5),
        times,
        st.lists(st.tuples(st.integers(0, 5), times), max_size=5),
    ),
    max_size=12,
)
priors = st.dictionaries(st.sampled_from(DEVICES), st.integers(-50, 400), max_size=6)


@settings(max_examples=300, deadline=None)
@given(spec=beacon_specs, prior_w=priors, prior_b=priors)
def test_columns_equal_reference(
    spec: list[tuple[int, int, list[tuple[int, int]]]], prior_w: dict[str, int], prior_b: dict[str, int]
) -> None:
    params = PocParams(reciprocity_window_s=WINDOW)
    prior = {"last_witness": prior_w, "last_beacon": prior_b}
    expected_beacons, got_beacons = _beacons(spec), _beacons(spec)
    expected_verdicts: dict[str, Verdict] = {}
    got_verdicts: dict[str, Verdict] = {}
    expected_times = process_reciprocity(expected_beacons, expected_verdicts, prior, params)
    got_times = process_reciprocity_columns(got_beacons, got_verdicts, prior, params)
    assert got_times == expected_times
    assert _outcome(got_beacons, got_verdicts) == _outcome(expected_beacons, expected_verdicts)


def test_a_witness_of_a_device_without_a_recent_beacon_is_refused_with_its_numbers() -> None:
    # dev0 and dev1 beacon and witness each other; dev2 witnesses dev0 but never had a beacon witnessed
    spec = [(0, 300, [(1, 300), (2, 301)]), (1, 290, [(0, 290)])]
    beacons, verdicts = _beacons(spec), {}
    process_reciprocity_columns(beacons, verdicts, {}, PocParams(reciprocity_window_s=WINDOW))
    refused = {key: (v.reason, dict(v.evidence)) for key, v in verdicts.items()}
    assert refused == {
        "w0.1": ("witness.not_reciprocal", {"last_witnessed_beacon_ts": None, "window_s": WINDOW})
    }
    assert [w.report_id for w in beacons[("e0", DEVICES[0])].witnesses] == ["w0.0"]


def test_a_beacon_whose_beaconer_witnessed_nothing_recently_takes_its_witnesses_with_it() -> None:
    spec = [(0, 300, [(1, 300), (2, 301)])]
    prior = {"last_witness": {DEVICES[0]: 150}, "last_beacon": {}}
    beacons, verdicts = _beacons(spec), {}
    process_reciprocity_columns(beacons, verdicts, prior, PocParams(reciprocity_window_s=WINDOW))
    refused = {key: (v.reason, dict(v.evidence)) for key, v in verdicts.items()}
    assert refused == {
        "b0": ("beacon.not_reciprocal", {"last_valid_witness_ts": 150, "window_s": WINDOW}),
        "w0.0": ("witness.beacon_not_reciprocal", {"beaconer": DEVICES[0]}),
        "w0.1": ("witness.beacon_not_reciprocal", {"beaconer": DEVICES[0]}),
    }
    assert beacons[("e0", DEVICES[0])].witnesses == []


def test_times_beyond_int64_are_compared_as_python_integers() -> None:
    spec = [(0, 300, [(1, 300), (2, 2**70)]), (1, 280, [(0, 290)]), (2, 2**70, [(0, 2**70)])]
    prior = {"last_witness": {DEVICES[3]: 2**80}, "last_beacon": {DEVICES[2]: -(2**75)}}
    params = PocParams(reciprocity_window_s=WINDOW)
    expected_beacons, got_beacons = _beacons(spec), _beacons(spec)
    expected_verdicts: dict[str, Verdict] = {}
    got_verdicts: dict[str, Verdict] = {}
    assert process_reciprocity_columns(got_beacons, got_verdicts, prior, params) == process_reciprocity(
        expected_beacons, expected_verdicts, prior, params
    )
    assert _outcome(got_beacons, got_verdicts) == _outcome(expected_beacons, expected_verdicts)
