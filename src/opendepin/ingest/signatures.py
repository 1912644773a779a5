"""Signature checks of an ingest batch on the machine's other cores (docs/architecture.md, "Ingest").

Checking a signature (libsodium's ed25519, OpenSSL's P-256) is C code that releases Python's GIL, and it is
most of what the gate costs. While the ingest thread decodes and gates reports in Python, worker threads
check the signatures of the chunks already decoded. Each answer is exactly `verify_signature` of the same
bytes, so the gate decides as it would alone: only the time at which it learns the answer changes.

Rules:
- a report is checked only if it decoded and names a registered device (the gate refuses the others before
  it reaches the signature), with that device's registered key type;
- chunks are handed to the workers as they fill; a chunk the gate needs before a worker has started it is
  taken back and checked on the gate's own thread, so the gate never waits for idle workers;
- a batch smaller than one chunk, or a machine with one core, checks inline (no thread hand-off).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from opendepin.identity.keys import verify_signature
from opendepin.reports.envelope import SignedReport
from opendepin.sectors.base import DeviceInfo

CHUNK = 64
"""Signatures per hand-off (≈ 5 ms of work: large enough that the hand-off is noise)."""

SignatureJob = tuple[str, bytes, bytes, bytes]
"""(key type, raw public key, signed envelope bytes, signature)."""


def default_threads() -> int:
    """Worker threads for signature checks: one per core this process may run on, less the gate's own."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(0, cores - 1)


def signature_job(signed: SignedReport, devices: Mapping[str, DeviceInfo]) -> SignatureJob | None:
    """What checking `signed`'s signature needs, or None when the gate refuses it before that (unknown
    device)."""
    env = signed.envelope
    device = devices.get(env.device)
    if device is None:
        return None
    raw = bytes.fromhex(env.device.partition(":")[2])
    return device.key_type, raw, signed.envelope_bytes, signed.signature


def _check(jobs: list[SignatureJob | None]) -> list[bool | None]:
    return [None if job is None else verify_signature(*job) for job in jobs]


class SignatureChecker:
    """A pool of signature-checking threads shared by every batch of one ingest service (thread-safe)."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = default_threads() if threads is None else threads
        if self.threads < 0:
            raise ValueError(f"signature threads must be ≥ 0, got {self.threads}")
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def batch(self) -> SignatureBatch:
        """A new batch: `add` each report in order, then `result(i)` in any order."""
        return SignatureBatch(self._executor())

    def _executor(self) -> ThreadPoolExecutor | None:
        if self.threads == 0:
            return None
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="verify")
            return self._pool

    def close(self) -> None:
        """Stop the threads (after the chunks already handed over)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class SignatureBatch:
    """The signatures of one batch, checked ahead of the gate (module rules)."""

    def __init__(self, pool: ThreadPoolExecutor | None) -> None:
        self._pool = pool
        self._filling: list[SignatureJob | None] = []
        self._chunks: list[tuple[list[SignatureJob | None], Future[list[bool | None]] | None]] = []
        self._done: dict[int, list[bool | None]] = {}

    def add(self, job: SignatureJob | None) -> None:
        """Append the next report's job (None: nothing to check); a full chunk goes to a worker."""
        self._filling.append(job)
        if len(self._filling) == CHUNK:
            self._hand_over()

    def _hand_over(self) -> None:
        jobs, self._filling = self._filling, []
        future = None
        if self._pool is not None and any(job is not None for job in jobs):
            future = self._pool.submit(_check, jobs)
        self._chunks.append((jobs, future))

    def result(self, index: int) -> bool | None:
        """Whether report `index`'s signature verified (None: it had no job). Waits for its chunk's worker
        if one is checking it, else checks the chunk here."""
        chunk, offset = divmod(index, CHUNK)
        done = self._done.get(chunk)
        if done is None:
            if chunk == len(self._chunks) and self._filling:
                self._hand_over()  # the last, partial chunk: checked here (nothing to wait for)
            jobs, future = self._chunks[chunk]
            taken_back = future is None or future.cancel()
            done = _check(jobs) if taken_back else future.result()  # type: ignore[union-attr]
            self._done[chunk] = done
        return done[offset]
