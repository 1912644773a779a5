"""Signature checks ahead of the gate: the same answers as checking inline, whatever the threads do."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey, verify_signature
from opendepin.ingest.signatures import CHUNK, SignatureBatch, SignatureChecker, SignatureJob
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

KEYS = [DeviceKey("ed25519", bytes([i + 1]) * 32) for i in range(3)] + [
    DeviceKey("p256", bytes([0x40 + i]) * 32) for i in range(2)
]


def _jobs(kinds: list[int]) -> list[SignatureJob | None]:
    """0: no job, 1: valid, 2: flipped signature bit, 3: signed by another key, 4: signature one byte short,
    5: a public key that is not a point (or, for P-256, not a key)."""
    jobs: list[SignatureJob | None] = []
    for i, kind in enumerate(kinds):
        key = KEYS[i % len(KEYS)]
        message = f"report {i}".encode()
        signature = key.sign(message)
        if kind == 0:
            jobs.append(None)
            continue
        if kind == 2:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        if kind == 3:
            signature = KEYS[(i + 1) % len(KEYS)].sign(message)
        if kind == 4:
            signature = signature[:-1]
        raw = bytes(len(key.public.raw)) if kind == 5 else key.public.raw
        jobs.append((key.key_type, raw, message, signature))
    return jobs


@settings(max_examples=25, deadline=None)
@given(
    kinds=st.lists(st.integers(0, 5), max_size=3 * CHUNK + 5),
    threads=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_answers_equal_inline_checks_in_any_order(kinds: list[int], threads: int, seed: int) -> None:
    jobs = _jobs(kinds)
    checker = SignatureChecker(threads)
    try:
        batch = checker.batch()
        for job in jobs:
            batch.add(job)
        order = list(range(len(jobs)))
        random.Random(seed).shuffle(order)
        answers = {i: batch.result(i) for i in order}
    finally:
        checker.close()
    assert [answers[i] for i in range(len(jobs))] == [
        None if job is None else verify_signature(*job) for job in jobs
    ]
    assert [answers[i] for i in range(len(jobs))] == [None if k == 0 else k == 1 for k in kinds]


def test_the_gate_never_waits_for_a_busy_worker() -> None:
    """A chunk no worker has started is checked on the caller's thread (taken back from the queue)."""
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, 30)  # the only worker is busy
        batch = SignatureBatch(pool)
        jobs = _jobs([1, 2] * CHUNK)
        for job in jobs:
            batch.add(job)
        answers = [batch.result(i) for i in range(len(jobs))]
        assert not release.is_set()
        release.set()
    assert answers == [True, False] * CHUNK


def test_negative_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        SignatureChecker(-1)


@pytest.mark.parametrize("threads", [0, 2])
def test_a_mixed_batch_gets_the_same_verdicts_with_and_without_threads(tmp_path: Path, threads: int) -> None:
    """Forged, unknown, malformed and valid reports (ed25519 and P-256) in one 300-report batch: every
    verdict is the one the inline gate gives, at chunk boundaries too (threads=0 runs twice on fresh
    stores: the verdicts are a function of the batch)."""
    config = NetworkConfig(makers=[MakerConfig(name="test-maker", address=MAKER.address)])
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    results = {}
    for run, mode in enumerate((0, threads)):
        store = SQLiteStore(tmp_path / f"run-{run}.sqlite3")
        node = Node(config, store, clock)
        node.ingestion.signatures = SignatureChecker(mode)
        for key in KEYS[:4]:
            node.onboard(onboard_request(config.name, key))
        wires = _mixed_wires(clock.now(), 300)
        results[run] = [(r.reason, r.report_id) for r in node.ingest(wires)]
        node.ingestion.signatures.close()
        store.close()
    assert results[1] == results[0]
    reasons = [reason for reason, _ in results[0]]
    assert {"accepted", "signature.invalid", "device.unknown", "report.malformed"} <= set(reasons)
    assert reasons[CHUNK - 1] == "signature.invalid" and reasons[CHUNK] == "accepted"


def _mixed_wires(now: int, count: int) -> list[bytes]:
    """Valid reports with a forged one at each chunk's last slot, an unregistered device's every 7th and
    junk every 11th."""
    wires = []
    for i in range(count):
        key = KEYS[4] if i % 7 == 3 else KEYS[i % 4]
        wire = sign_report(key, HEARTBEAT, now - 60, 10 + i, {"lat": 52.52, "lon": 13.405}).to_wire()
        if i % CHUNK == CHUNK - 1:
            env, sig = cbor2.loads(wire)
            wire = cbor2.dumps([env, sig[:-1] + bytes([sig[-1] ^ 0x80])])
        elif i % 11 == 5:
            wire = b"\x00junk" + bytes([i % 256])
        wires.append(wire)
    return wires
