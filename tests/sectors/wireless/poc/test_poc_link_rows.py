"""The link table built from the witness rules' arrays, before the valid witnesses' entries exist
(`WitnessJudgement.valid_links`, what lets trust start early), is the very table built from the beacons'
witness lists as the reference (`matching.process_witnesses`) fills them: every array bit for bit, the
report behind each row, the beacons' order. Where the arrays cannot hold every list (a beacon the reference
judged whole, a witness it found valid against the arrays), `valid_links` says so and the table is read
from the lists once complete; the outcome is the same either way."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import SectorInput
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc
from opendepin.sectors.wireless.poc.matching import process_beacons, process_witnesses
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS
from opendepin.sectors.wireless.poc.tables import EpochTables, build_tables
from opendepin.sectors.wireless.poc.witness_columns import compute_grid_distances, judge_witness_columns
from tests.sectors.wireless.poc.test_poc_witness_columns import PARAMS, _epoch, _mutate

LIMIT = 2**62


def _fits(report: ReportRecord) -> bool:
    """No integer beyond ±2⁶² in the payload (such a witness or beacon is judged whole by the reference)."""
    payload: Any = report.payload
    if not isinstance(payload, dict):
        return True
    return not any(type(v) is int and not -LIMIT < v < LIMIT for v in payload.values())


def _tables(
    reports: list[ReportRecord], data: SectorInput, params: PocParams
) -> tuple[EpochTables, EpochTables, bool]:
    """(from the reference's lists, from the arrays or the lists as `evaluate_poc` takes them, whether the
    arrays were used)."""
    data = replace(data, reports=reports)
    entropies = {str(k): int(v) for k, v in dict(data.context[ENTROPY_CONTEXT_KEY]).items()}
    beacon_reports = [r for r in reports if r.kind == BEACON]
    witness_reports = [r for r in reports if r.kind == WITNESS]
    _, beacons, cited, _ = process_beacons(beacon_reports, data.devices, entropies, {}, params)
    process_witnesses(witness_reports, data.devices, entropies, beacons, cited, params)
    expected = build_tables(data, beacons, params)
    _, beacons, cited, _ = process_beacons(beacon_reports, data.devices, entropies, {}, params)
    judgement = judge_witness_columns(witness_reports, data.devices, entropies, beacons, cited, params)
    valid = judgement.valid_links()
    early = build_tables(data, beacons, params, valid) if valid is not None else None
    judgement.record_valid()
    got = early if early is not None else build_tables(data, beacons, params)
    return expected, got, valid is not None


def _assert_same(expected: EpochTables, got: EpochTables) -> None:
    for part in ("devices", "links", "beacons"):
        for field in fields(getattr(expected, part)):
            a, b = getattr(getattr(expected, part), field.name), getattr(getattr(got, part), field.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and a.shape == b.shape, (part, field.name)
                assert a.tobytes() == b.tobytes(), (part, field.name)
            else:
                assert a == b, (part, field.name)
    assert got.report_ids == expected.report_ids
    assert np.array_equal(got.beacon_of_row, expected.beacon_of_row)
    assert [b.report.report_id for b in got.beacon_entries] == [
        b.report.report_id for b in expected.beacon_entries
    ]


def test_an_honest_epoch_builds_its_link_table_from_the_arrays() -> None:
    data = _epoch("honest", 3)
    expected, got, early = _tables(list(data.reports), data, PARAMS)
    assert early
    assert expected.links.size > 200 and len(expected.beacons.reported_pairs) > expected.links.size
    _assert_same(expected, got)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    share=st.sampled_from([0.05, 0.3]),
    scenario=st.sampled_from(["honest", "building", "hex-spoof"]),
    whole=st.booleans(),
)
def test_mutated_epochs_build_the_same_link_table(
    seed: int, share: float, scenario: str, whole: bool
) -> None:
    """Malformed, foreign, duplicated, late and denied witnesses: the same table. With `whole`, beacons and
    witnesses beyond ±2⁶² stay, the reference judges their beacons whole and the lists are read instead."""
    data = _epoch(scenario, 5)
    reports, params = _mutate(data, seed, share)
    if not whole:
        reports = [r for r in reports if _fits(r)]
    expected, got, early = _tables(reports, data, params)
    _assert_same(expected, got)
    if not whole:
        assert early


def test_grid_distances_of_cells_h3_cannot_relate_are_far() -> None:
    """A pair H3 cannot measure (cells on opposite sides of the globe) is `FAR_CELLS`, the others exact."""
    import h3.api.basic_int as h3_int

    from opendepin.sectors.wireless.poc.geo import FAR_CELLS

    cells = [
        h3_int.latlng_to_cell(lat, lng, 11) for lat, lng in ((52.5, 13.4), (52.5001, 13.4), (-33.9, 151.2))
    ]
    got = compute_grid_distances(cells, np.array([0, 0, 1]), np.array([1, 2, 0]))
    assert got.tolist() == [
        h3_int.grid_distance(cells[0], cells[1]),
        FAR_CELLS,
        h3_int.grid_distance(cells[1], cells[0]),
    ]


@pytest.mark.parametrize("scenario", ["wallet-split", "hex-cluster", "mixed"])
def test_trust_from_the_arrays_gives_the_outcome_of_trust_from_the_lists(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole epoch (verdicts with their evidence, contributions, notes, carried state) on attacked
    fleets: trust started from the rules' arrays, or from the beacons' lists once complete."""
    import opendepin.sectors.wireless.poc.witness_columns as witness_columns

    data = _epoch(scenario, 7)
    early = evaluate_poc(data, PARAMS)
    monkeypatch.setattr(witness_columns.WitnessJudgement, "valid_links", lambda self: None)
    late = evaluate_poc(data, PARAMS)
    assert [(v.report_id, v.reason, dict(v.evidence)) for v in early.verdicts] == [
        (v.report_id, v.reason, dict(v.evidence)) for v in late.verdicts
    ]
    assert early.contributions == late.contributions
    assert early.notes == late.notes
    assert early.state == late.state
    assert {v.reason for v in early.verdicts} - {"ok"}
