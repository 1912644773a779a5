"""Shared plumbing of the HTTP API: the node lookup and bounded body reading."""

from __future__ import annotations

from fastapi import HTTPException, Request

from opendepin.node import Node


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def read_body_limited(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes; a larger body is refused with 413 before it is buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPException(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
        except ValueError:
            raise HTTPException(400, "content-length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
