"""Untrusted bodies are bounded before any route sees them; JSON is parsed with bounded nesting, whatever
the interpreter's recursion limit.

`eth_account` imports `py_ecc`, which raises the recursion limit to 100,000: the standard JSON decoder then
recurses until the C stack overflows (a 200 KB body of nested arrays kills the process). So every JSON body
is checked before any decoder sees it — size, encoding and nesting depth — by `BoundedBodyMiddleware`, one
ASGI middleware in front of every route (including routes added later). The depth scan is linear in the
body and needs no recursion.

The same middleware bounds every body, whatever its content type: by its route's limit (one per media type
on the batch routes, a small one elsewhere), and all bodies together by a byte budget, so that concurrent
maximal batches cannot pile up in memory. It also applies the per-source rate limit to writes
(`api/ratelimit.py`) before a body is read.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendepin.api.ratelimit import RateLimiter, source_of

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body (the API's own schemas need 3)."""
_THREAD_SCAN_BYTES = 256 * 1024
"""Bodies larger than this are scanned off the event loop."""
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b'[]{}"')
_SCAN_CHUNK = 1 << 20


class BodyError(ValueError):
    """A request body refused before parsing; `status` is the HTTP status, `reason` a stable code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def media_type(content_type: str | None) -> str:
    """The media type of a content-type header, `type/subtype` in lower case. Rule: RFC 9110 §8.3.1 —
    type and subtype are case-insensitive, parameters follow `;`, whitespace around them is optional."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_cbor_media_type(content_type: str | None) -> bool:
    """True if the media type is exactly `application/cbor` (any case, any parameters); not
    `application/cborXYZ`."""
    return media_type(content_type) == "application/cbor"


def is_json_media_type(content_type: str | None) -> bool:
    """Rule: a body is JSON for the framework when it has no content type or its media type is
    `application/json` or `application/*+json` (parameters such as charset ignored) — the same test
    FastAPI applies before it decodes a body, so everything it would decode is checked first."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if a JSON parser reading `body` would open more than `limit` nested arrays/objects.

    Rule: depth rises at `[`/`{` and falls at `]`/`}` outside strings. Escapes (`\\x`) are dropped first,
    then strings (`"…"`), then everything but brackets; the running depth of what is left is computed in
    chunks with numpy. Exact for every prefix a parser accepts (a parser stops at the first error, so what
    follows an error never nests it deeper). Needs UTF-8 input (see `json_problem`)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    structural = _STRING.sub(b"", _ESCAPE.sub(b"", body).translate(None, _NOT_STRUCTURAL))
    unterminated = structural.find(b'"')
    if unterminated >= 0:
        structural = structural[:unterminated]  # the rest is inside a string that never ends
    codes = np.frombuffer(structural, dtype=np.uint8)
    depth = 0
    for start in range(0, len(codes), _SCAN_CHUNK):
        chunk = codes[start : start + _SCAN_CHUNK]
        steps = np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1).astype(np.int64)
        running = np.cumsum(steps) + depth
        if int(running.max()) > limit:
            return True
        depth = int(running[-1])
    return False


def json_problem(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> BodyError | None:
    """None if `body` may be handed to a JSON decoder; else why not. Rule: JSON exchanged between systems
    is UTF-8 (RFC 8259 §8.1) and holds no raw NUL byte (so no decoder guesses UTF-16/32 and the byte scan
    is exact), and nests at most `max_depth` arrays/objects."""
    if b"\x00" in body:
        return BodyError(400, "request.not_utf8", "a JSON body must be UTF-8 text without NUL bytes")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return BodyError(400, "request.not_utf8", f"a JSON body must be UTF-8 (byte {error.start})")
    if json_depth_exceeds(body, max_depth):
        return BodyError(400, "request.too_deep", f"JSON nests deeper than {max_depth} arrays/objects")
    return None


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` behind `json_problem`: raises BodyError for a body it refuses, ValueError if the JSON
    is invalid; never recurses deeper than `max_depth`."""
    problem = json_problem(body, max_depth)
    if problem is not None:
        raise problem
    return json.loads(body)


async def _error(
    send: Send, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None
) -> None:
    body = json.dumps({"detail": {"reason": reason, "message": message}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ByteBudget:
    """Bytes of request bodies the process holds at once, at most `capacity`. Rule: a request reserves its
    body's size before the body is read and gives it back when its answer is sent; reservations are granted
    first come, first served (a large body waiting at the head is not overtaken by small ones). Used from one
    event loop (not thread-safe)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self.peak = 0
        self._waiting: deque[tuple[int, anyio.Event]] = deque()

    async def acquire(self, size: int, timeout: float) -> bool:
        """Reserve `size` bytes (at most the capacity), waiting at most `timeout` seconds; False if no room
        came in time (then nothing is reserved)."""
        size = min(size, self.capacity)
        if not self._waiting and self.held + size <= self.capacity:
            self._take(size)
            return True
        entry = (size, anyio.Event())
        self._waiting.append(entry)
        try:
            with anyio.move_on_after(timeout):
                await entry[1].wait()
        except BaseException:
            self._withdraw(entry)
            raise
        if entry[1].is_set():
            return True
        self._withdraw(entry)
        return False

    def release(self, size: int) -> None:
        """Give back `size` reserved bytes and let the waiting requests in, in order, while they fit."""
        self.held -= min(size, self.capacity)
        self._grant()

    def _take(self, size: int) -> None:
        self.held += size
        self.peak = max(self.peak, self.held)

    def _grant(self) -> None:
        while self._waiting and self.held + self._waiting[0][0] <= self.capacity:
            size, event = self._waiting.popleft()
            self._take(size)
            event.set()

    def _withdraw(self, entry: tuple[int, anyio.Event]) -> None:
        if entry[1].is_set():  # granted while it was giving up
            self.held -= entry[0]
        else:
            self._waiting.remove(entry)
        self._grant()


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """The largest body of a batch route in each format it takes (the route charges its own refusals)."""

    cbor: int
    json: int


@dataclass(frozen=True, slots=True)
class BodyPolicy:
    """What `BoundedBodyMiddleware` enforces. `small` bounds every body outside `batches` (and a batch body
    of any other media type); `budget` bounds all bodies held at once; a request waits at most
    `wait_seconds` for room in it, and its whole body must arrive within `read_seconds`."""

    batches: Mapping[str, BatchLimits]
    small: int
    budget: ByteBudget
    wait_seconds: float = 5.0
    read_seconds: float = 60.0
    limiter: RateLimiter | None = None
    refused_write_cost: int = 1

    def limit(self, path: str, content_types: list[str | None]) -> int:
        """Rule: a batch route's CBOR limit for `application/cbor`, its JSON limit for what the framework
        decodes as JSON, the small limit otherwise; the largest that any of the content-type headers
        allows (a repeated header cannot exceed the route's largest limit)."""
        batch = self.batches.get(path)
        if batch is None:
            return self.small

        def of(value: str | None) -> int:
            if is_cbor_media_type(value):
                return batch.cbor
            return batch.json if is_json_media_type(value) else self.small

        return max(of(value) for value in content_types or [None])


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that write nothing: neither rate limited nor charged for a refusal."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.reason, self.headers = status, reason, headers


class BoundedBodyMiddleware:
    """In front of the whole app, for every HTTP request, before any route runs:

    1. a write (any method but GET, HEAD, OPTIONS) from a source whose rejection bucket is empty is refused
       with 429 `ingest.rate_limited` and `Retry-After`, its body unread;
    2. a `Content-Length` above the route's limit (`BodyPolicy.limit`) is refused with 413
       `request.too_large` at once; a body of unknown length (chunked) is counted as it streams and refused
       with 413 as soon as it passes the limit;
    3. the body's bytes (its `Content-Length`, else the route's limit) are reserved in the byte budget; with
       no room within `wait_seconds` the answer is 503 `node.busy` with `Retry-After`; the reservation is
       held until the answer is sent;
    4. the body is read whole within `read_seconds` (else 408 `request.timeout`); a body the framework could
       decode as JSON is checked by `json_problem` (else 400 with its reason); the route then reads it from
       memory;
    5. a write refused with a 4xx (other than 429) costs its source tokens: 1 on a batch route for a refusal
       made here (the batch routes charge their own), `refused_write_cost` on every other route whatever
       refused it.
    """

    def __init__(self, app: ASGIApp, policy: BodyPolicy, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.policy = policy
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        path: str = scope.get("path", "")
        write = scope.get("method", "GET") not in SAFE_METHODS
        client = scope.get("client")
        source = source_of(client[0] if client else None)
        batch = path in policy.batches
        cost = (1 if batch else policy.refused_write_cost) if write else 0
        limiter = policy.limiter
        if write and limiter is not None:
            wait = limiter.retry_after(source)
            if wait:
                message = f"{source} caused too many rejected items; retry in {wait} s"
                await _error(send, 429, "ingest.rate_limited", message, {"Retry-After": str(wait)})
                return
        status = 0
        refused_here = False

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._bounded(scope, receive, tracked)
        except _Refused as refused:
            refused_here = True
            await _error(tracked, refused.status, refused.reason, str(refused), refused.headers)
        chargeable = 400 <= status < 500 and status != 429 and (refused_here or not batch)
        if limiter is not None and cost and chargeable:
            limiter.charge(source, cost)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = self.policy
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        content_types: list[str | None] = [
            value.decode("latin-1") for name, value in headers if name == b"content-type"
        ]
        limit = policy.limit(scope.get("path", ""), content_types)
        too_large = _Refused(413, "request.too_large", f"body exceeds the limit of {limit} bytes")
        lengths = [value.decode("latin-1").strip() for name, value in headers if name == b"content-length"]
        if not all(value.isdigit() for value in lengths):
            raise _Refused(400, "request.malformed", "content-length is not a number")
        declared = max((int(value) for value in lengths), default=None)
        if declared is not None and declared > limit:
            raise too_large
        chunked = any(name == b"transfer-encoding" for name, _ in headers)
        reserved = declared if declared is not None else (limit if chunked else 0)
        if reserved and not await policy.budget.acquire(reserved, policy.wait_seconds):
            retry = str(max(1, math.ceil(policy.wait_seconds)))
            message = f"the node is reading as many bodies as it holds at once; retry in {retry} s"
            raise _Refused(503, "node.busy", message, {"Retry-After": retry})
        try:
            body: bytes | None = b""
            with anyio.move_on_after(policy.read_seconds) as deadline:
                body = await self._read(receive, limit, too_large)
            if deadline.cancelled_caught:
                message = f"the body did not arrive within {policy.read_seconds:g} s"
                raise _Refused(408, "request.timeout", message)
            if body is None:
                return  # the client went away
            if reserved > len(body):  # a chunked body reserved its limit: keep what it holds
                policy.budget.release(reserved - len(body))
                reserved = len(body)
            if any(is_json_media_type(value) for value in content_types or [None]):
                if len(body) > _THREAD_SCAN_BYTES:
                    problem = await to_thread.run_sync(json_problem, body, self.max_depth)
                else:
                    problem = json_problem(body, self.max_depth)
                if problem is not None:
                    raise _Refused(problem.status, problem.reason, str(problem))
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            if reserved:
                policy.budget.release(reserved)

    @staticmethod
    async def _read(receive: Receive, limit: int, too_large: _Refused) -> bytes | None:
        """The whole body, or None if the client disconnected; raises `too_large` past `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)
