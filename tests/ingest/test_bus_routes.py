"""Routing on the ingest bus (ingest/bus.py): every report of a device goes to one partition, named by its
device id alone; bytes that do not decode still get a partition and a message id."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.errors import ServiceUnavailable
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.bus import (
    PARTITIONS,
    BusNames,
    BusUnavailable,
    RefusalTally,
    connect_nats,
    device_partition,
    edge_screen,
    route,
)
from opendepin.ingest.gate import GateResult
from opendepin.reports.envelope import SignedReport, sign_report
from opendepin.sectors.base import DeviceInfo


@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(min_size=32, max_size=32), seqs=st.lists(st.integers(1, 2**40), min_size=1, max_size=5)
)
def test_every_report_of_a_device_takes_its_devices_partition(secret: bytes, seqs: list[int]) -> None:
    key = DeviceKey("ed25519", secret)
    expected = device_partition(key.device_id)
    for seq in seqs:
        signed = sign_report(key, "wireless.heartbeat", 1_800_000_000, seq, {"lat": 1.5, "lon": 2.5})
        msg_id, partition = route(signed.to_wire())
        assert (msg_id, partition) == (signed.report_id, expected)
        assert 0 <= partition < PARTITIONS


def test_the_partition_is_the_first_four_bytes_of_the_ids_hash() -> None:
    device = "ed25519:" + "ab" * 32
    digest = hashlib.sha256(device.encode()).digest()
    assert device_partition(device, 8) == int.from_bytes(digest[:4], "big") % 8
    assert device_partition(device, 3) == int.from_bytes(digest[:4], "big") % 3


def test_bytes_that_do_not_decode_get_a_raw_id_and_a_partition() -> None:
    msg_id, partition = route(b"\x00not a report", 8)
    assert msg_id == "raw:" + hashlib.sha256(b"\x00not a report").hexdigest()
    assert 0 <= partition < 8


def test_partition_subjects_and_consumers_are_named_per_partition() -> None:
    names = BusNames.prefixed("abc")
    assert names.partition_subject(3) == "abc.reports.in.3"
    assert names.partition_consumer(3) == "gate-workers-3"
    assert names.partitions == PARTITIONS


def test_no_nats_server_at_start_is_a_message_naming_the_url_and_how_to_start_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # nothing listens there once closed
    url = f"nats://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(BusUnavailable) as raised:
        asyncio.run(connect_nats(url, first_wait=1.0))
    assert time.monotonic() - started < 30  # bounded: the client alone retries forever
    assert url in str(raised.value) and "nats-server -js" in str(raised.value)
    assert isinstance(raised.value, ServiceUnavailable)  # the command line prints it, no traceback


def test_the_edge_refuses_junk_oversized_reports_and_unknown_devices_before_the_bus() -> None:
    known = DeviceKey("ed25519", b"\x07" * 32)
    stranger = DeviceKey("ed25519", b"\x08" * 32)
    good = sign_report(known, "wireless.heartbeat", 1_700_000_000, 1, {"lat": 1.0, "lon": 2.0})
    unknown = sign_report(stranger, "wireless.heartbeat", 1_700_000_000, 1, {"lat": 1.0, "lon": 2.0})
    large = sign_report(known, "wireless.heartbeat", 1_700_000_000, 2, {"lat": 1.0, "pad": "x" * 2_000})
    asked: list[list[str]] = []

    def lookup(ids: Sequence[str]) -> list[DeviceInfo]:
        asked.append(list(ids))
        return [
            DeviceInfo(d, "0x" + "00" * 20, "0x" + "11" * 20, "ed25519", None, 0)
            for d in ids
            if d == known.device_id
        ]

    wires = [good.to_wire(), b"\x00junk", unknown.to_wire(), large.to_wire(), good.to_wire()]
    screened = edge_screen(wires, 1_024, lookup)
    passing, junk, stranger_result, oversized, again = screened
    assert isinstance(passing, SignedReport) and passing.report_id == good.report_id  # on to the bus
    assert isinstance(again, SignedReport)  # duplicates are the bus's business
    assert isinstance(junk, GateResult) and junk.reason.startswith("report.") and not junk.accepted
    assert isinstance(stranger_result, GateResult) and stranger_result.reason == "device.unknown"
    assert (stranger_result.report_id, stranger_result.device_id) == (unknown.report_id, stranger.device_id)
    assert isinstance(oversized, GateResult) and oversized.reason.startswith("report.")
    assert asked == [sorted({known.device_id, stranger.device_id})]  # one lookup for the batch
    assert isinstance(edge_screen([b"\x00"], 1_024, lookup)[0], GateResult) and len(asked) == 1


def test_the_edge_charges_what_the_workers_refused_once_and_to_its_sender() -> None:
    """RefusalTally: the first reading is a baseline; then each counter's growth is charged to its HTTP
    source, less what the edge refused (and charged) itself; device sources are not charged; counters of
    old buckets are forgotten."""
    tally = RefusalTally()
    attacker, honest = "http:198.51.100.7", "http:203.0.113.9"
    assert tally.new_refusals({(0, "signature.invalid", attacker): 40}, 0) == {}  # before this edge
    tally.count_own([(3600, "device.unknown", attacker)] * 5)  # refused at the edge, charged there
    counters = {
        (0, "signature.invalid", attacker): 40,
        (3600, "signature.invalid", attacker): 100,
        (3600, "device.unknown", attacker): 5,
        (3600, "report.replay", "ed25519:" + "ab" * 32): 7,
        (3600, "signature.invalid", honest): 1,
    }
    assert tally.new_refusals(counters, 0) == {attacker: 100, honest: 1}
    assert tally.new_refusals(counters, 0) == {}  # nothing new: nothing charged twice
    counters[(3600, "signature.invalid", attacker)] = 130
    counters[(7200, "report.malformed", attacker)] = 2
    assert tally.new_refusals(counters, 3600) == {attacker: 32}
    assert all(key[0] >= 3600 for key in tally._seen or {})
