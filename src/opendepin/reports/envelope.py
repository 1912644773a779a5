"""The signed report envelope (README, "Formats").

`{v, kind, device, ts, seq, payload}` encoded as deterministic CBOR (RFC 8949 §4.2.1: shortest forms,
map keys sorted by their encoded bytes), signed by the device key. On the wire a signed report is the
CBOR array `[envelope_bytes, signature]`. The report id is SHA-256 of the envelope bytes: the same
report re-sent is recognised whatever the transport, and a changed byte is a different report.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from opendepin.identity.keys import DeviceKey

ENVELOPE_VERSION = 1
_ENVELOPE_KEYS = frozenset({"v", "kind", "device", "ts", "seq", "payload"})
MAX_PAYLOAD_DEPTH = 16
"""Containers nested deeper than this inside a payload make the report malformed."""
_PLAIN_SCALARS = (str, bytes, int, float, bool, type(None))
_COSTLY_TAGS = re.compile(
    rb"\xd8[\x23\x24]|\xd9\x00[\x23\x24]|\xda\x00\x00\x00[\x23\x24]|\xdb\x00{7}[\x23\x24]"
)
"""Heads (any width) of CBOR tags 35 (regular expression) and 36 (MIME message): cbor2 compiles or parses
their content while decoding, which costs far more than the bytes that carry them. Envelopes holding these
byte patterns are first checked by the strict scanner, which refuses every tag."""


class EnvelopeError(ValueError):
    """A report that cannot be decoded; `reason` is a stable code. `device` is the device id the envelope
    names when it could be read (unauthenticated: anyone can write any id), kept with the rejection so a
    device's operator can find its refused reports."""

    def __init__(self, reason: str, message: str, device: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.device = device


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: str
    device: str
    ts: int
    seq: int
    payload: Mapping[str, Any]
    v: int = ENVELOPE_VERSION

    def to_map(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "kind": self.kind,
            "device": self.device,
            "ts": self.ts,
            "seq": self.seq,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True, slots=True)
class SignedReport:
    """A decoded report: the exact envelope bytes that were signed, the signature, and their meaning."""

    envelope_bytes: bytes
    signature: bytes
    envelope: Envelope

    @property
    def report_id(self) -> str:
        return compute_report_id(self.envelope_bytes)

    def to_wire(self) -> bytes:
        return cbor2.dumps([self.envelope_bytes, self.signature])


class _CanonicalEncoder(threading.local):
    """One deterministic-CBOR encoder per thread, reused: `cbor2.dumps` builds a buffer and an encoder on
    every call, which costs more than encoding a report's envelope (benchmarks/ingest.py)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.buffer = io.BytesIO()
        self.encoder = cbor2.CBOREncoder(self.buffer, canonical=True)

    def dumps(self, value: Any) -> bytes:
        """The same bytes as `cbor2.dumps(value, canonical=True)`; raises what it raises."""
        buffer = self.buffer
        buffer.seek(0)
        buffer.truncate()
        try:
            self.encoder.encode(value)
        except BaseException:
            self.reset()  # the encoder may hold state of the failed value
            raise
        return buffer.getvalue()


_canonical = _CanonicalEncoder()


def canonical_cbor(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 §4.2.1) of `value`: the bytes of `cbor2.dumps(value, canonical=True)`."""
    return _canonical.dumps(value)


def encode_envelope(envelope: Envelope) -> bytes:
    """Deterministic CBOR of the envelope."""
    return canonical_cbor(envelope.to_map())


def compute_report_id(envelope_bytes: bytes) -> str:
    return hashlib.sha256(envelope_bytes).hexdigest()


def sign_report(key: DeviceKey, kind: str, ts: int, seq: int, payload: Mapping[str, Any]) -> SignedReport:
    """Build, encode and sign an envelope with the device key."""
    envelope = Envelope(kind=kind, device=key.device_id, ts=ts, seq=seq, payload=payload)
    data = encode_envelope(envelope)
    return SignedReport(data, key.sign(data), envelope)


def plain_problem(
    payload: Mapping[Any, Any], max_depth: int = MAX_PAYLOAD_DEPTH, max_items: int = 16_384
) -> str | None:
    """None if `payload` holds only the plain CBOR data model: maps with text keys, arrays, text, bytes,
    integers, floats, booleans and null, nested at most `max_depth` deep, at most `max_items` values in
    all; else what is wrong.

    Rule: a signed report carries data, never objects a decoder builds from tags (dates, decimals, sets,
    regular expressions, shared references), so the gate and the sectors only ever see these types.
    Iterative and bounded, so neither hostile nesting nor a shared (cyclic) structure can hang it."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > max_items:
            return f"payload holds more than {max_items} values"
        if type(value) is dict:
            if depth > max_depth:
                return f"payload nests deeper than {max_depth} levels"
            for key, item in value.items():
                if type(key) is not str:
                    return f"payload map keys must be text, got {type(key).__name__}"
                stack.append((item, depth + 1))
        elif type(value) is list:
            if depth > max_depth:
                return f"payload nests deeper than {max_depth} levels"
            stack.extend((item, depth + 1) for item in value)
        elif type(value) not in _PLAIN_SCALARS:
            return f"payload holds a {type(value).__name__}; only plain CBOR data is allowed (no tags)"
    return None


def _check_envelope_map(value: Any) -> Envelope:
    claimed = value.get("device") if isinstance(value, dict) else None
    named = claimed if isinstance(claimed, str) else None
    if not isinstance(value, dict) or value.keys() != _ENVELOPE_KEYS:
        keys = sorted(map(str, value)) if isinstance(value, dict) else type(value).__name__
        expected = sorted(_ENVELOPE_KEYS)
        message = f"envelope must be a map with keys {expected}, got {keys}"
        raise EnvelopeError("report.malformed", message, named)
    v, kind, device, ts, seq = value["v"], value["kind"], value["device"], value["ts"], value["seq"]
    payload = value["payload"]
    if type(v) is not int:
        raise EnvelopeError(
            "report.malformed", f"envelope v must be the integer 1, got {type(v).__name__}", named
        )
    if v != ENVELOPE_VERSION:
        raise EnvelopeError(
            "report.unsupported_version", f"envelope version {v!r} is not supported (use 1)", named
        )
    if not isinstance(kind, str) or not isinstance(device, str):
        raise EnvelopeError("report.malformed", "envelope kind and device must be text", named)
    if not (kind.isprintable() and device.isprintable()):
        # identifiers: a control character (NUL, which PostgreSQL cannot keep in text, a newline that would
        # forge a log line) is never part of one, so the report is refused before anything looks it up
        raise EnvelopeError("report.malformed", "envelope kind and device must be printable text", None)
    if type(ts) is not int or type(seq) is not int or not (0 <= ts < 2**63 and 0 <= seq < 2**63):
        raise EnvelopeError(
            "report.malformed", "envelope ts and seq must be non-negative 63-bit integers", named
        )
    if not isinstance(payload, dict):
        raise EnvelopeError("report.malformed", "envelope payload must be a map", named)
    problem = plain_problem(payload)
    if problem is not None:
        raise EnvelopeError("report.malformed", problem, named)
    return Envelope(kind=kind, device=device, ts=ts, seq=seq, payload=payload, v=v)


def _read_head(data: bytes, offset: int) -> tuple[int, int, int, int] | None:
    """The CBOR item head at `offset` → (major type, additional info, argument, next offset); None if the
    bytes end inside the head or it is an indefinite length / reserved value (additional info 28–31)."""
    if offset >= len(data):
        return None
    head = data[offset]
    major, info = head >> 5, head & 0x1F
    offset += 1
    if info < 24:
        return major, info, info, offset
    if info > 27:
        return None
    size = 1 << (info - 24)
    if offset + size > len(data):
        return None
    return major, info, int.from_bytes(data[offset : offset + size], "big"), offset + size


def _read_bytestring(data: bytes, offset: int) -> tuple[bytes, int] | None:
    """A definite-length CBOR byte string at `offset` → (value, next offset); None if it is not one."""
    head = _read_head(data, offset)
    if head is None or head[0] != 2:
        return None
    _major, _info, length, start = head
    if length > len(data) - start:
        return None
    return data[start : start + length], start + length


def split_wire(wire: bytes) -> tuple[bytes, bytes]:
    """`[envelope bytes, signature]` → the two byte strings. Rule: a signed report on the wire is exactly a
    definite-length CBOR array of two definite-length byte strings and nothing after it; anything else
    (other types, tags, indefinite lengths, trailing bytes) is `report.malformed`. Read without a general
    CBOR decoder, so no tag of the outer bytes is ever interpreted."""
    if (
        wire[:2] == b"\x82\x58" and len(wire) > 2
    ):  # the usual shape: 1-byte envelope length, 64-byte signature
        end = 3 + wire[2]
        if wire[end : end + 2] == b"\x58\x40" and len(wire) == end + 66:
            return wire[3:end], wire[end + 2 :]
    return _split_wire_generally(wire)


def _split_wire_generally(wire: bytes) -> tuple[bytes, bytes]:
    """`split_wire` for any head widths (the fast path above must agree with it: tests/reports)."""
    first = _read_bytestring(wire, 1) if wire[:1] == b"\x82" else None
    second = _read_bytestring(wire, first[1]) if first is not None else None
    if first is None or second is None:
        raise EnvelopeError(
            "report.malformed", "a signed report is the CBOR array [envelope bytes, signature]"
        )
    if second[1] != len(wire):
        raise EnvelopeError(
            "report.malformed", f"{len(wire) - second[1]} trailing bytes after [envelope bytes, signature]"
        )
    return first[0], second[0]


class BatchError(ValueError):
    """A batch body that is not a CBOR array of byte strings; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def split_batch(body: bytes, max_items: int) -> list[bytes]:
    """A batch body → its signed reports. Rule: the body is one CBOR array (definite or indefinite length)
    of at most `max_items` definite-length byte strings, with nothing after it (`batch.malformed`, or
    `batch.too_large` past `max_items`). Read without a general CBOR decoder: no tag is interpreted and
    the cost is linear in the number of items."""
    not_array = BatchError("batch.malformed", "the batch must be a CBOR array of byte strings")
    head = _read_head(body, 0)
    indefinite = body[:1] == b"\x9f"
    if indefinite:
        count, offset = max_items + 1, 1
    elif head is not None and head[0] == 4:
        count, offset = head[2], head[3]
    else:
        raise not_array
    if not indefinite and count > max_items:
        raise BatchError("batch.too_large", f"batch of {count} reports exceeds the limit of {max_items}")
    items: list[bytes] = []
    while len(items) < count:
        if indefinite and body[offset : offset + 1] == b"\xff":
            offset += 1
            break
        if len(items) == max_items:
            raise BatchError("batch.too_large", f"batch exceeds the limit of {max_items} reports")
        item = _read_bytestring(body, offset)
        if item is None:
            raise BatchError("batch.malformed", f"batch item {len(items)} is not a definite byte string")
        items.append(item[0])
        offset = item[1]
    if offset != len(body):
        raise BatchError("batch.malformed", f"{len(body) - offset} trailing bytes after the batch array")
    return items


def scan_plain_cbor(data: bytes, max_depth: int = MAX_PAYLOAD_DEPTH + 1) -> str | None:
    """None if `data` is exactly one CBOR item of the plain data model (no tags, no indefinite lengths,
    simple values only false/true/null, text map keys, nesting at most `max_depth`); else what is wrong.

    Rule: used before decoding an envelope whose bytes could hold a costly tag, so that cbor2 never builds
    one. Iterative (a stack of remaining item counts), linear in the input."""
    pending = [1]
    is_map = [False]
    offset = 0
    while pending:
        if pending[-1] == 0:
            pending.pop()
            is_map.pop()
            continue
        head = _read_head(data, offset)
        if head is None:
            return "truncated CBOR, indefinite length or reserved value"
        major, info, argument, offset = head
        is_key = is_map[-1] and pending[-1] % 2 == 0
        pending[-1] -= 1
        if is_key and major != 3:
            return "map keys must be text"
        if major in (2, 3):
            if argument > len(data) - offset:
                return "truncated CBOR string"
            if major == 3:
                try:
                    data[offset : offset + argument].decode("utf-8")
                except UnicodeDecodeError:
                    return "text is not UTF-8"
            offset += argument
        elif major in (4, 5):
            if len(pending) > max_depth:
                return f"nested deeper than {max_depth} levels"
            count = argument * 2 if major == 5 else argument
            if count > len(data) - offset:
                return "truncated CBOR container"
            pending.append(count)
            is_map.append(major == 5)
        elif major == 6:
            return "tags are not allowed"
        elif major == 7 and info not in (20, 21, 22, 25, 26, 27):
            return "simple values other than false, true and null are not allowed"
    if offset != len(data):
        return f"{len(data) - offset} trailing bytes"
    return None


def decode_or_error(wire: bytes, max_bytes: int = 16_384) -> SignedReport | EnvelopeError:
    """`decode_report`, with the EnvelopeError returned instead of raised (a batch keeps each report's
    outcome in its place)."""
    try:
        return decode_report(wire, max_bytes)
    except EnvelopeError as error:
        return error


def decode_report(wire: bytes, max_bytes: int = 16_384) -> SignedReport:
    """Decode `[envelope_bytes, signature]`; the envelope must be canonical CBOR of the plain data model with
    strictly typed fields. Never raises anything but EnvelopeError, whatever the bytes."""
    if len(wire) > max_bytes:
        raise EnvelopeError("report.too_large", f"report is {len(wire)} bytes; the limit is {max_bytes}")
    envelope_bytes, signature = split_wire(wire)
    if _COSTLY_TAGS.search(envelope_bytes) is not None:
        problem = scan_plain_cbor(envelope_bytes)
        if problem is not None:
            raise EnvelopeError("report.malformed", f"envelope is not plain CBOR: {problem}")
    try:
        inner = cbor2.loads(envelope_bytes)
    except Exception as error:  # cbor2 raises many types for hostile input
        raise EnvelopeError("report.malformed", f"envelope is not CBOR: {type(error).__name__}") from None
    try:
        canonical = canonical_cbor(inner)
    except Exception as error:  # e.g. a cyclic structure built from shared references
        raise EnvelopeError(
            "report.malformed", f"envelope cannot be re-encoded: {type(error).__name__}"
        ) from None
    envelope = _check_envelope_map(inner)
    if canonical != envelope_bytes:
        raise EnvelopeError(
            "report.not_canonical", "envelope is not deterministic CBOR (RFC 8949 §4.2)", envelope.device
        )
    return SignedReport(envelope_bytes, signature, envelope)
