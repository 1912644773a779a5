"""Signature checks of an ingest batch, a chunk at a time (docs/architecture.md, "Ingest").

Checking signatures is most of what the gate costs. The ed25519 signatures of a chunk are checked by
libsodium in one compiled call (`_ed25519_kernel`) instead of one PyNaCl call each, which saves the Python
around every check; P-256 ones go one by one through OpenSSL. Each answer is exactly `verify_signature` of
the same bytes, so the gate decides as it would alone.

Rules:
- a report is checked only if it decoded and names a registered device (the gate refuses the others before
  it reaches the signature), with that device's registered key type;
- with `threads` > 0, chunks are handed to worker threads as they fill while the gate decodes (the compiled
  call releases the GIL for the whole chunk); a chunk the gate needs before a worker has started it is
  taken back and checked on the gate's own thread, so the gate never waits for idle workers. The default
  is 0 (every chunk on the gate's thread): on the 2-core machine `benchmarks/ingest.py` measured no gain
  from a worker thread, because the gate's own Python holds the GIL and the worker waits to get it back
  after each chunk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from opendepin.identity.keys import verify_signature
from opendepin.reports.envelope import SignedReport
from opendepin.sectors.base import DeviceInfo

CHUNK = 128
"""Signatures per hand-off (≈ 5 ms of work: large enough that the hand-off is noise)."""

SignatureJob = tuple[str, bytes, bytes, bytes]
"""(key type, raw public key, signed envelope bytes, signature)."""


def spare_cores() -> int:
    """Cores this process may run on, less the gate's own (what `threads` could use)."""
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


KERNEL_MIN = 16
"""Fewer ed25519 signatures than this in a chunk are checked one by one (a device's single report does not
compile the kernel: importing numba and compiling it costs a process about a second, once)."""
ED25519_SIGNATURE = 64
ED25519_KEY = 32
_kernel_lock = threading.Lock()
_kernel: Callable[..., None] | None = None


def _ed25519_kernel() -> Callable[..., None]:
    """libsodium's `crypto_sign_open` over a chunk in one compiled loop that releases the GIL once for the
    whole chunk (numba calling PyNaCl's own cffi library). Called per signature from Python, every check
    would hand the GIL back and wait up to the switch interval (5 ms) to get it again while the gate runs
    Python: the worker thread would check a few hundred signatures a second. Compiled on first use in a
    process (it calls a C function by address, so numba cannot cache it on disk)."""
    global _kernel
    with _kernel_lock:
        if _kernel is None:
            import nacl._sodium as sodium
            import numpy as np
            from numba import njit
            from numba.core.typing import cffi_utils

            cffi_utils.register_module(sodium)
            sign_open, ffi = sodium.lib.crypto_sign_open, sodium.ffi

            @njit(nogil=True)
            def open_all(signed, offsets, lengths, keys, out, scratch, size):  # type: ignore[no-untyped-def]
                for i in range(len(offsets)):
                    start = offsets[i]
                    message = signed[start : start + lengths[i]]
                    status = sign_open(
                        ffi.from_buffer(scratch),
                        ffi.from_buffer(size),
                        ffi.from_buffer(message),
                        np.uint64(lengths[i]),
                        ffi.from_buffer(keys[i]),
                    )
                    out[i] = status == 0

            _kernel = open_all
        return _kernel


def _check_ed25519(jobs: list[SignatureJob]) -> list[bool]:
    """`verify_signature` of ed25519 jobs, in one GIL-free call: signature ‖ message opened with the key,
    as PyNaCl's `VerifyKey.verify` does (a signature that is not 64 bytes, or a key not 32, fails)."""
    import numpy as np

    well_formed = [len(sig) == ED25519_SIGNATURE and len(raw) == ED25519_KEY for _, raw, _, sig in jobs]
    usable = [job for job, ok in zip(jobs, well_formed, strict=True) if ok]
    if not usable:
        return [False] * len(jobs)
    blobs = [sig + message for _, _, message, sig in usable]
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.zeros(len(blobs), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    signed = np.frombuffer(bytearray(b"".join(blobs)), dtype=np.uint8)
    keys = np.frombuffer(bytearray(b"".join(raw for _, raw, _, _ in usable)), dtype=np.uint8).reshape(-1, 32)
    out = np.zeros(len(blobs), dtype=np.bool_)
    scratch = np.zeros(int(lengths.max()), dtype=np.uint8)
    size = np.zeros(1, dtype=np.uint64)
    _ed25519_kernel()(signed, offsets, lengths, keys, out, scratch, size)
    answers = iter(out.tolist())
    return [next(answers) if ok else False for ok in well_formed]


def _check(jobs: list[SignatureJob | None]) -> list[bool | None]:
    """Each job's `verify_signature`: the ed25519 ones in one GIL-free call, the others one by one."""
    ed = [i for i, job in enumerate(jobs) if job is not None and job[0] == "ed25519"]
    if len(ed) < KERNEL_MIN:
        ed = []
    batched = set(ed)
    answers: list[bool | None] = [
        None if job is None or i in batched else verify_signature(*job) for i, job in enumerate(jobs)
    ]
    if ed:
        for i, ok in zip(ed, _check_ed25519([jobs[i] for i in ed]), strict=True):  # type: ignore[misc]
            answers[i] = ok
    return answers


class SignatureChecker:
    """A pool of signature-checking threads shared by every batch of one ingest service (thread-safe)."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads
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
