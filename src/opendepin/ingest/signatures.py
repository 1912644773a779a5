"""Signature checks of an ingest batch, all at once (docs/architecture.md, "Ingest").

Checking signatures is most of what the gate costs. The batch's ed25519 signatures are checked by libsodium
in one compiled call (`_ed25519_kernel`) instead of one PyNaCl call each, which saves the Python around
every check; P-256 ones go one by one through OpenSSL. Each answer is exactly `verify_signature` of the
same bytes, so the gate decides as it would checking each report itself.

A report is checked only if it decoded and names a registered device (the gate refuses the others before
it reaches the signature), with that device's registered key type.

`decode_and_check` overlaps the two costs of a batch: while one background thread checks a chunk's
signatures (the kernel holds no GIL while it runs), the caller's thread decodes the next chunk, and then
gates the first chunks while the last ones are checked. On a machine with a second core the batch costs
about the larger of the two instead of their sum.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, overload

from opendepin.identity.keys import verify_signature
from opendepin.reports.envelope import EnvelopeError, SignedReport
from opendepin.sectors.base import DeviceInfo

SignatureJob = tuple[str, bytes, bytes, bytes]
"""(key type, raw public key, signed envelope bytes, signature)."""


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
"""Fewer ed25519 signatures than this in a batch are checked one by one (a device's single report does not
compile the kernel: importing numba and compiling it costs a process about a second, once)."""
ED25519_SIGNATURE = 64
ED25519_KEY = 32
_kernel_lock = threading.Lock()
_kernel: Callable[..., None] | None = None


def _ed25519_kernel() -> Callable[..., None]:
    """libsodium's `crypto_sign_open` over a batch in one compiled loop (numba calling PyNaCl's own cffi
    library) that releases the GIL while it runs (the serving process's other threads go on). Compiled on
    first use in a process (it calls a C function by address, so numba cannot cache it on disk)."""
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


SWITCH_INTERVAL = 0.0005
"""Seconds a thread holding the GIL runs before one waiting for it gets it (`sys.setswitchinterval`; Python's
default is 0.005). The signature thread needs the GIL for a moment between chunks, to hand back a chunk's
answers and start the next, while the caller's thread gates in Python: at the default each hand-over waited
up to 5 ms with the kernel idle, about 15 ms a batch of 1,000 (ingest 0.62-0.67 of bare verification ->
0.70-0.72 at this value, benchmarks/ingest.py)."""


def prepare() -> None:
    """Make this process ready to check batches (a long-running ingest process calls this at start): the
    batch kernel compiled now, so that its first batch does not pay for importing numba and compiling it
    (about a second; numba compiles on the first call, so this checks one made-up signature through the
    same path a batch takes), and the GIL handed over every `SWITCH_INTERVAL`."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    _check_ed25519([("ed25519", bytes(ED25519_KEY), b"prepare", bytes(ED25519_SIGNATURE))])


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


def check_signatures(jobs: Sequence[SignatureJob | None]) -> list[bool | None]:
    """Each job's `verify_signature` (None for no job): the ed25519 ones in one GIL-free call when there are
    at least KERNEL_MIN of them, the others one by one."""
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


def check_batch(
    decoded: Sequence[SignedReport | EnvelopeError], devices: Mapping[str, DeviceInfo]
) -> list[bool | None]:
    """For each decoded report (an EnvelopeError for bytes that did not decode), whether its signature
    verified with its registered device's key; None where the gate refuses it before the signature."""
    return check_signatures(signature_jobs(decoded, devices))


def signature_jobs(
    decoded: Sequence[SignedReport | EnvelopeError], devices: Mapping[str, DeviceInfo]
) -> list[SignatureJob | None]:
    """`signature_job` of each decoded report (None for bytes that did not decode)."""
    return [None if isinstance(item, EnvelopeError) else signature_job(item, devices) for item in decoded]


CHUNK = 256
"""Reports per chunk of `decode_and_check` (a batch of at most two chunks is checked in the caller's thread:
handing over would cost more than it overlaps)."""
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
Decoded = TypeVar("Decoded", bound="SignedReport | EnvelopeError")


def _forget_pool_in_child() -> None:
    """A forked child has no thread of its parent's pool: it starts its own when it needs one."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _checker() -> ThreadPoolExecutor:
    """The process's one signature thread (a daemon-like pool thread; calls queue on it)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signatures")
        return _pool


class PendingChecks(Sequence["bool | None"]):
    """The answers of `decode_and_check`: item i waits only for its own chunk's checks."""

    def __init__(self, futures: list[Future[list[bool | None]]], chunk: int, size: int) -> None:
        self._futures, self._chunk, self._size = futures, chunk, size
        self._done: list[list[bool | None] | None] = [None] * len(futures)

    def __len__(self) -> int:
        return self._size

    def _answers(self, part: int) -> list[bool | None]:
        done = self._done[part]
        if done is None:
            done = self._done[part] = self._futures[part].result()
        return done

    @overload
    def __getitem__(self, index: int) -> bool | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[bool | None]: ...
    def __getitem__(self, index: int | slice) -> bool | list[bool | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if not -self._size <= index < self._size:
            raise IndexError(index)
        index %= self._size
        return self._answers(index // self._chunk)[index % self._chunk]

    def __iter__(self) -> Iterator[bool | None]:
        for part in range(len(self._futures)):
            yield from self._answers(part)


def decode_and_check(
    wires: Sequence[bytes],
    decode: Callable[[bytes], Decoded],
    devices: Callable[[], Mapping[str, DeviceInfo]],
    chunk: int = CHUNK,
    overlap: bool = True,
    resolve: Callable[[list[Decoded]], None] | None = None,
) -> tuple[list[Decoded], Sequence[bool | None]]:
    """Each wire decoded (`decode` returns an EnvelopeError for bytes that do not decode) and, as
    `check_batch` answers, whether its signature verified, chunk by chunk: a chunk's signatures are checked
    on the signature thread while the next chunk is decoded here. `resolve`, if given, sees each decoded
    chunk before its signatures are checked (a caller registers the devices it names that it did not know,
    all at once), and `devices()` is read after it. The answers wait per chunk, so a caller gating in order
    overlaps the last chunks' checks too. `overlap=False` does it all in the caller's thread (a process
    that should use one core: one gate worker per core)."""
    if not overlap or len(wires) <= 2 * chunk:
        decoded = [decode(wire) for wire in wires]
        if resolve is not None:
            resolve(decoded)
        return decoded, check_batch(decoded, devices())
    pool = _checker()
    decoded_all: list[Decoded] = []
    futures: list[Future[list[bool | None]]] = []
    for start in range(0, len(wires), chunk):
        part = [decode(wire) for wire in wires[start : start + chunk]]
        if resolve is not None:
            resolve(part)
        decoded_all.extend(part)
        futures.append(pool.submit(check_signatures, signature_jobs(part, devices())))
    return decoded_all, PendingChecks(futures, chunk, len(wires))
