"""The repairer's decision (`repairer.decide`) over the node's repair list as a real epoch produces it
(`routes.repair_listing` of `evaluate_storage`'s state) and the holders' probe."""

from __future__ import annotations

import random

from opendepin.sectors.storage.client import ObjectRecord, PieceRecord, SegmentRecord
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.repairer import decide, listed_of
from opendepin.sectors.storage.routes import repair_listing
from tests.sectors.storage.helpers import HOUR, make_net, rules

START = 86_400  # the listed epoch (number 1) began here


def lossy_epoch() -> tuple[dict, list[str], list[str]]:
    """Three segments on ten providers; providers 0-3 say every audited piece is missing for a day of
    hourly audits. Returns the epoch state, the segments, the providers in order."""
    net = make_net()
    reports = net.place(3, random.Random(1))
    order = sorted(net.devices)
    audits = [net.audit(t) for t in range(HOUR, 25 * HOUR, HOUR)]
    for audit in audits:
        for i, device in enumerate(order):
            lost = frozenset(net.pieces[device]) if i < 4 else frozenset()
            reports += net.answers(device, audit, lost=lost)
    out = evaluate_storage(net.input(0, reports, audits), rules())
    segments = sorted({p.segment for pieces in net.pieces.values() for p in pieces.values()})
    return {**out.state, "_client": net.client.address}, segments, order


def record_of(segments: list[str], order: list[str], placed: int = 0) -> ObjectRecord:
    """The catalog's view: piece i of every segment on provider i (k = 4, n = 10)."""
    record = ObjectRecord("obj", "f.bin", 1, "", 4, 10, 0)
    for segment in segments:
        pieces = [PieceRecord(i, order[i], "http://x", "r", 1, "", "", 0, placed) for i in range(10)]
        record.segments.append(SegmentRecord(segment, 1, "", pieces))
    return record


def test_the_listing_names_the_clients_segments_at_the_threshold_with_the_pieces_the_registry_holds() -> None:
    state, segments, order = lossy_epoch()
    client = state.pop("_client")
    listing = repair_listing(state, client)
    lost_pieces = {s: 10 - sum(1 for key in state["pieces"] if key.startswith(s)) for s in segments}
    listed = {s for s, lost in lost_pieces.items() if 10 - lost <= rules().repair_threshold}
    assert listed and {e["segment"] for e in listing} == listed
    for entry in listing:
        assert entry["healthy"] == len(entry["pieces"]) <= 6 and (entry["k"], entry["n"]) == (4, 10)
        assert all(order[int(i)] == device and int(i) >= 4 for i, device in entry["pieces"].items())
    assert repair_listing(state, "0x" + "ab" * 20) == []  # another client's segments are not its


def test_a_listed_segment_is_repaired_from_the_pieces_the_registry_still_holds() -> None:
    """The probe finds all ten holders answering, but the registry dropped four pieces (audits said they
    were missing): the segment is rebuilt from the six the registry holds."""
    state, segments, order = lossy_epoch()
    client = state.pop("_client")
    listed = listed_of({"segments": repair_listing(state, client)})
    record = record_of(segments, order)
    everyone = {s: frozenset(range(10)) for s in segments}
    assert set(listed) == set(segments)  # every segment lost the four pieces of providers 0-3
    for d in decide(record, listed, everyone, 6, START):
        assert d.action == "repair" and d.listed
        assert d.healthy == frozenset(listed[d.segment].pieces) == frozenset(range(4, 10))


def test_the_probe_alone_triggers_repair_at_the_threshold_and_reports_a_lost_segment() -> None:
    _, segments, order = lossy_epoch()
    record = record_of(segments, order)
    a, b, c = segments
    probed = {a: frozenset(range(7)), b: frozenset(range(6)), c: frozenset(range(3))}
    got = {d.segment: (d.action, d.healthy) for d in decide(record, {}, probed, 6, START)}
    assert got == {a: ("ok", probed[a]), b: ("repair", probed[b]), c: ("lost", probed[c])}
    # a segment nobody could probe counts as having no healthy piece
    assert {d.action for d in decide(record, {}, {}, 6, START)} == {"lost"}


def test_pieces_placed_after_the_listed_epoch_began_are_not_taken_as_dropped() -> None:
    """After a repair the node still lists the segment until the next epoch registers the new puts: the new
    pieces count as healthy, so the repairer does not rebuild the segment again."""
    state, segments, order = lossy_epoch()
    client = state.pop("_client")
    listed = listed_of({"segments": repair_listing(state, client)})
    everyone = {s: frozenset(range(10)) for s in segments}
    fresh = record_of(segments, order, placed=START + 60)
    assert {d.action for d in decide(fresh, listed, everyone, 6, START)} == {"ok"}
    stale = record_of(segments, order, placed=START - 60)
    assert "repair" in {d.action for d in decide(stale, listed, everyone, 6, START)}
