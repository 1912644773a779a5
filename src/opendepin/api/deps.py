"""Shared plumbing of the HTTP API: the node lookup, request sources, bounded body reading, the limits."""

from __future__ import annotations

from fastapi import Request

from opendepin.api.ratelimit import RateLimiter, source_of
from opendepin.config import IngestConfig
from opendepin.identity.attestation import MAX_ATTRIBUTE_KEY, MAX_ATTRIBUTE_TEXT, MAX_ATTRIBUTES
from opendepin.market.receipts import MAX_RECEIPT_BYTES
from opendepin.node import Node
from opendepin.services.usage import MAX_RECEIPTS_PER_BATCH

MAX_INT64 = 2**63 - 1
"""Largest integer the stores hold (SQLite INTEGER, PostgreSQL BIGINT): every integer parameter is bounded
by it, so a larger one is a 422, never an OverflowError."""


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def request_source(request: Request) -> str:
    """The transport source of a request (`http:<client address>`, IPv6 by /64), for counters and limits."""
    return source_of(request.client.host if request.client is not None else None)


def cbor_items_limit(max_items: int, max_item_bytes: int) -> int:
    """Largest CBOR batch body: `max_items` items of `max_item_bytes` plus their CBOR heads."""
    return max_items * (max_item_bytes + 8) + 1_024


def json_items_limit(max_items: int, max_item_bytes: int) -> int:
    """Largest JSON batch body: the same batch as base64 strings (4 characters per 3 bytes), quoted,
    separated."""
    return max_items * (4 * -(-max_item_bytes // 3) + 16) + 1_024


def cbor_batch_limit(params: IngestConfig) -> int:
    """Largest CBOR report batch: `max_batch` reports of `max_report_bytes` (16,393,024 bytes by default)."""
    return cbor_items_limit(params.max_batch, params.max_report_bytes)


def json_body_limit(params: IngestConfig) -> int:
    """Largest JSON report batch: the same as base64 (21,865,024 bytes by default); the largest body any
    route takes."""
    return json_items_limit(params.max_batch, params.max_report_bytes)


USAGE_CBOR_LIMIT = cbor_items_limit(MAX_RECEIPTS_PER_BATCH, MAX_RECEIPT_BYTES)
"""Largest CBOR usage batch: 1,000 receipts of at most 1,024 bytes (1,033,024 bytes)."""
USAGE_JSON_LIMIT = json_items_limit(MAX_RECEIPTS_PER_BATCH, MAX_RECEIPT_BYTES)
"""Largest JSON usage batch: the same as base64 (1,385,024 bytes)."""
SMALL_BODY_LIMIT = 2 * MAX_ATTRIBUTES * (MAX_ATTRIBUTE_KEY + MAX_ATTRIBUTE_TEXT) * 12 + 16_384
"""Largest body of every route that is not a batch (262,144 bytes): an onboarding, the largest of them,
holds at most 2 × 32 attributes (maker's and owner's) of a 64-character key and 256-character text, each
character at most 12 bytes of JSON (`\\uXXXX\\uXXXX`, a surrogate pair), plus 16 KiB for the rest (ids,
addresses, signatures). A compute order (`{order, signature}` in hex, at most ~2.3 KB) fits many times."""
