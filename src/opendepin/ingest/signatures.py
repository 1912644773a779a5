"""Signature checks of an ingest batch, all at once (docs/architecture.md, "Ingest").

Checking signatures is most of what the gate costs. The batch's ed25519 signatures are checked by libsodium
in one compiled call (`_ed25519_kernel`) instead of one PyNaCl call each, which saves the Python around
every check; P-256 ones go one by one through OpenSSL. Each answer is exactly `verify_signature` of the
same bytes, so the gate decides as it would checking each report itself.

A report is checked only if it decoded and names a registered device (the gate refuses the others before
it reaches the signature), with that device's registered key type. (Checking on worker threads while the
gate runs was tried: on 2 cores it gained nothing steady, because the gate's own Python holds the GIL.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

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


def prepare() -> None:
    """Compile the batch kernel now (a long-running worker calls this at start, so that its first batch
    does not pay for importing numba and compiling, about a second): numba compiles on the first call, so
    this checks one made-up signature through the same path a batch takes."""
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
    return check_signatures(
        [None if isinstance(item, EnvelopeError) else signature_job(item, devices) for item in decoded]
    )
