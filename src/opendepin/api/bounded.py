"""Untrusted JSON is parsed with bounded size and nesting, whatever the interpreter's recursion limit.

`eth_account` imports `py_ecc`, which raises the recursion limit to 100,000: the standard JSON decoder then
recurses until the C stack overflows (a 200 KB body of nested arrays kills the process). So every JSON body
is checked before any decoder sees it — size, encoding and nesting depth — by `BoundedJSONMiddleware`, one
ASGI middleware in front of every route (including routes added later). The depth scan is linear in the
body and needs no recursion.
"""

from __future__ import annotations

import email.message
import json
import re
from typing import Any

import numpy as np
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


async def _error(send: Send, status: int, reason: str, message: str) -> None:
    body = json.dumps({"detail": {"reason": reason, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BoundedJSONMiddleware:
    """In front of the whole app: a request whose body the framework could decode as JSON is read (up to
    `max_bytes`, else 413 `request.too_large`) and checked by `json_problem` (else 400 with its reason)
    before any route runs; other bodies (CBOR) stream through untouched to their route's own limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        content_types: list[str | None] = [
            value.decode("latin-1") for name, value in headers if name == b"content-type"
        ]
        if not any(is_json_media_type(value) for value in content_types or [None]):
            await self.app(scope, receive, send)
            return
        lengths = [value.decode("latin-1") for name, value in headers if name == b"content-length"]
        if any(value.isdigit() and int(value) > self.max_bytes for value in lengths):
            await _error(send, 413, "request.too_large", f"body exceeds the limit of {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _error(
                    send, 413, "request.too_large", f"body exceeds the limit of {self.max_bytes} bytes"
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if len(body) > _THREAD_SCAN_BYTES:
            problem = await to_thread.run_sync(json_problem, body, self.max_depth)
        else:
            problem = json_problem(body, self.max_depth)
        if problem is not None:
            await _error(send, problem.status, problem.reason, str(problem))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
