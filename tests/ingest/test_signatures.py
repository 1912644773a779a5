"""Signature checks of a batch ahead of the gate: the same answers as checking each report itself."""

from __future__ import annotations

from pathlib import Path

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey, verify_signature
from opendepin.ingest import signatures
from opendepin.ingest.signatures import (
    KERNEL_MIN,
    SignatureJob,
    check_batch,
    check_signatures,
    decode_and_check,
)
from opendepin.node import Node
from opendepin.reports.envelope import EnvelopeError, SignedReport, decode_report, sign_report
from opendepin.sectors.base import DeviceInfo
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
@given(kinds=st.lists(st.integers(0, 5), max_size=3 * KERNEL_MIN + 5))
def test_answers_equal_checks_one_by_one(kinds: list[int]) -> None:
    """Below and above KERNEL_MIN ed25519 signatures (one by one, then the compiled call)."""
    jobs = _jobs(kinds)
    answers = check_signatures(jobs)
    assert answers == [None if job is None else verify_signature(*job) for job in jobs]
    assert answers == [None if k == 0 else k == 1 for k in kinds]


FORGED = 64
"""Every FORGED-th report carries a forged signature."""


def test_a_mixed_batch_gets_the_verdicts_of_reports_sent_one_by_one(tmp_path: Path) -> None:
    """Forged, unknown, malformed and valid reports (ed25519 and P-256) in one 300-report batch (its
    signatures checked together) get the verdicts the same reports get sent one at a time to a fresh node
    (each checked by itself)."""
    config = NetworkConfig(makers=[MakerConfig(name="test-maker", address=MAKER.address)])
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    wires = _mixed_wires(clock.now(), 300)
    results = []
    for run, batches in enumerate(([wires], [[wire] for wire in wires])):
        store = SQLiteStore(tmp_path / f"run-{run}.sqlite3")
        node = Node(config, store, clock)
        for key in KEYS[:4]:
            node.onboard(onboard_request(config.name, key))
        results.append([(r.reason, r.report_id) for batch in batches for r in node.ingest(batch)])
        store.close()
    assert results[1] == results[0]
    reasons = [reason for reason, _ in results[0]]
    assert {"accepted", "signature.invalid", "device.unknown", "report.malformed"} <= set(reasons)
    assert reasons[FORGED - 1] == "signature.invalid" and reasons[FORGED] == "accepted"


def _mixed_wires(now: int, count: int) -> list[bytes]:
    """Valid reports with a forged one every FORGED-th, an unregistered device's every 7th and junk every
    11th."""
    wires = []
    for i in range(count):
        key = KEYS[4] if i % 7 == 3 else KEYS[i % 4]
        wire = sign_report(key, HEARTBEAT, now - 60, 10 + i, {"lat": 52.52, "lon": 13.405}).to_wire()
        if i % FORGED == FORGED - 1:
            env, sig = cbor2.loads(wire)
            wire = cbor2.dumps([env, sig[:-1] + bytes([sig[-1] ^ 0x80])])
        elif i % 11 == 5:
            wire = b"\x00junk" + bytes([i % 256])
        wires.append(wire)
    return wires


def test_prepare_compiles_the_kernel_a_batch_uses() -> None:
    """A worker prepares at start so that its first batch compiles nothing: afterwards the kernel holds the
    compiled version a batch's arrays call (numba compiles once per argument types)."""
    signatures.prepare()
    kernel = signatures._ed25519_kernel()
    compiled = list(kernel.signatures)  # type: ignore[attr-defined]
    assert len(compiled) == 1
    key = DeviceKey("ed25519", bytes(range(32)))
    jobs: list[SignatureJob] = []
    for seq in range(KERNEL_MIN):
        signed = sign_report(key, HEARTBEAT, 1_700_000_000, seq, {"lat": 1.0, "lon": 2.0})
        jobs.append(
            (
                "ed25519",
                bytes.fromhex(key.device_id.partition(":")[2]),
                signed.envelope_bytes,
                signed.signature,
            )
        )
    assert check_signatures(jobs) == [True] * KERNEL_MIN
    assert list(kernel.signatures) == compiled  # type: ignore[attr-defined]


@settings(max_examples=20, deadline=None)
@given(
    kinds=st.lists(st.integers(0, 4), max_size=6 * KERNEL_MIN),
    chunk=st.sampled_from([KERNEL_MIN, KERNEL_MIN + 3, 40]),
)
def test_decoding_and_checking_chunk_by_chunk_answers_as_the_whole_batch(
    kinds: list[int], chunk: int
) -> None:
    """`decode_and_check` (chunks checked on the signature thread while the next is decoded) gives each
    report the answer `check_batch` gives the decoded batch: 0 valid, 1 forged signature, 2 an unknown
    device, 3 bytes that do not decode, 4 a P-256 device's report."""
    keys = [DeviceKey("ed25519", bytes([i + 1]) * 32) for i in range(4)] + [DeviceKey("p256", b"\x41" * 32)]
    stranger = DeviceKey("ed25519", b"\x77" * 32)
    devices = {
        key.device_id: DeviceInfo(key.device_id, "0x" + "22" * 20, MAKER, key.key_type, None, 0)
        for key in keys
    }
    wires = []
    for i, kind in enumerate(kinds):
        key = keys[4] if kind == 4 else stranger if kind == 2 else keys[i % 4]
        wire = sign_report(key, HEARTBEAT, 1_700_000_000, i, {"lat": 1.0, "lon": 2.0}).to_wire()
        if kind == 1:
            wire = wire[:-1] + bytes([wire[-1] ^ 1])
        if kind == 3:
            wire = b"\x82" + wire[2:]
        wires.append(wire)
    looked_up: list[int] = []

    def decode(wire: bytes) -> SignedReport | EnvelopeError:
        looked_up.append(len(looked_up))
        try:
            return decode_report(wire)
        except EnvelopeError as error:
            return error

    decoded, answers = decode_and_check(wires, decode, lambda: devices, chunk)
    assert len(looked_up) == len(wires) and len(answers) == len(wires)
    expected = check_batch(decoded, devices)
    assert list(answers) == expected
    assert [answers[i] for i in range(len(wires))] == expected
    assert answers[-len(wires) :] == expected
    assert expected == [True if k in (0, 4) else False if k == 1 else None for k in kinds]


def test_a_forked_child_checks_on_its_own_signature_thread() -> None:
    """The pool's thread is not forked with the process: a child made by fork after the parent used the
    signature thread still gets its answers (a child holding the parent's pool would wait forever)."""
    import multiprocessing

    assert _check_in_child() == [True] * 80
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_check_in_child).get(timeout=120) == [True] * 80


def _check_in_child() -> list[bool | None]:
    key = DeviceKey("ed25519", b"\x05" * 32)
    wires = [
        sign_report(key, HEARTBEAT, 1_700_000_000, i, {"lat": 1.0, "lon": 2.0}).to_wire() for i in range(80)
    ]
    devices = {key.device_id: DeviceInfo(key.device_id, "0x" + "22" * 20, MAKER, "ed25519", None, 0)}
    return list(decode_and_check(wires, decode_report, lambda: devices, KERNEL_MIN)[1])
