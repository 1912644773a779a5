"""The node's OpenAPI document: one error shape everywhere, the API's conventions stated once.

FastAPI documents its own validation error (`HTTPValidationError`, a list under `detail`) while the node
answers every error as `{"detail": {"reason": …, "message": …}}` (`api/app.py`). `node_openapi` replaces
it: every operation documents its 4xx answers with the one `Error` schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API_DESCRIPTION = """\
The HTTP API of an opendepin node: devices onboard and send signed reports, payers send usage receipts,
anyone reads devices, epochs, Merkle proofs, epoch bundles and the explorer's views.

**Errors.** Every error, of every route, is `{"detail": {"reason": "<stable code>", "message": "<what to
do>"}}` (schema `Error`), e.g. `request.invalid` (422), `request.too_large` (413), `batch.malformed`,
`device.unknown`, `epoch.not_closed` (404), `ingest.rate_limited` (429, with `Retry-After`), `node.busy`
(503, with `Retry-After`: the node holds as many request bodies as it can at once).

**Exact integers.** Token amounts (smallest units) are JSON strings of decimal digits, always (`"emitted":
"164383561643835616438356"`); counts, timestamps (Unix seconds) and epoch numbers are numbers; any other
integer beyond 2^53 − 1 is a string too, so no JSON decoder loses a digit.

**Paging.** Lists that grow with the network are paged; `limit` bounds a page. A map cell's devices, a
device's reports and its reward history answer `{"items": [...], "next": …}`: pass `next` back (as
`after`, or `before` for lists newest first) until it is null. `GET /v1/devices` answers `{"devices":
[...], "next_after": …}` (pass `next_after` as `after`). `GET /v1/epochs` answers one array (one summary
per closed epoch).

**Reports** (`POST /v1/reports`) are CBOR arrays of signed reports, each the CBOR array
`[envelope, signature]`: `envelope` the bytes of the deterministic CBOR map `{v, kind, device, ts, seq,
payload}` (RFC 8949 §4.2), `signature` the device key's signature of those bytes (ed25519, or P-256
ECDSA); the report id is the SHA-256 of the envelope bytes. JSON clients send `{"reports": [base64 of each
signed report's CBOR, …]}`. Usage receipts (`POST /v1/usage`) are the same with `[receipt, signature]`
signed by the payer, or `[receipt, signature, device signature]` countersigned by the device that served
(required by sectors such as storage).
"""

ROUTE_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("post", "/v1/reports"): "A batch of signed reports (CBOR, or JSON with base64 items; formats above). "
    "Each report is answered with its own status, in order: `accepted`, or the reason code it was refused "
    "for (`signature.invalid`, `device.unknown`, `report.duplicate`, `report.future`, …) and a message. "
    "A body that is not a batch at all is refused whole (`batch.malformed`, 400).",
    ("post", "/v1/devices"): "Onboard a device: its id (key type and public key), its owner's address, "
    "the maker's signature over the attestation (the maker must be one of the network's makers) and, "
    "optionally, the owner's signed H3 location. Onboarding the same device again answers the stored "
    "record (201) and changes nothing; another owner, cell or attribute for a registered device is refused "
    "(`onboarding.already_registered`, 409).",
    ("get", "/v1/devices/{device_id}"): "A registered device: key type, owner, maker, H3 location, "
    "onboarding time.",
    ("get", "/v1/devices/{device_id}/explain"): "Why a device earned what it earned in an epoch: its "
    "reports by verdict and reason, notes (penalties with evidence), refused reports, and per category "
    "the pool, its units, the units of every device and the amount.",
    ("get", "/v1/epochs"): "Every closed epoch, oldest first: number, window, Merkle root, emitted and "
    "paid (token amounts as strings), rewarded devices, leaf count and reports.",
    ("get", "/v1/epochs/{number}"): "The manifest of a closed epoch: the Merkle root of its owner "
    "leaves, the leaves, totals, pools, the digests of its parameters and inputs — what `depin epoch "
    "verify` recomputes.",
    ("get", "/v1/epochs/{number}/proof/{address}"): "An owner's leaf in a closed epoch (cumulative "
    "amount) with its Merkle proof and the root: hash the leaf, fold the proof's siblings (sorted pairs, "
    "keccak-256) and compare with the root, or claim it on chain.",
    ("get", "/v1/health"): "The node's status: version, network, clock, next epoch to close, sectors "
    "and report kinds.",
}
"""A description for each route whose handler states none (the others use their docstring)."""

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "object",
            "required": ["reason", "message"],
            "properties": {
                "reason": {"type": "string", "description": "a stable code, e.g. `request.invalid`"},
                "message": {"type": "string", "description": "what went wrong and what to do"},
            },
        }
    },
    "description": "The one shape of every error answer.",
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_DESCRIPTIONS = {
    "400": "malformed request",
    "403": "refused (a signature or attestation does not verify)",
    "404": "not found",
    "413": "body too large",
    "415": "unsupported media type",
    "422": "a parameter or body field out of range or of the wrong type",
    "408": "the body did not arrive in time",
    "409": "conflicts with what is registered",
    "429": "rate limited; see Retry-After",
    "503": "the node holds as many request bodies as it can; see Retry-After",
}


def node_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the `Error` schema on every 4xx answer (cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=API_DESCRIPTION,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not operation.get("description"):
                operation["description"] = ROUTE_DESCRIPTIONS.get(
                    (method, path), operation.get("summary", "")
                )
            responses = operation.setdefault("responses", {})
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault("422", {})
            for code, response in responses.items():
                if code.startswith("4"):
                    response["content"] = ERROR_CONTENT
                    if not response.get("description") or response["description"] == "Validation Error":
                        response["description"] = ERROR_DESCRIPTIONS.get(code, "error")
            responses.setdefault("4XX", {"description": "any other refusal", "content": ERROR_CONTENT})
            if method not in ("get", "head", "options"):  # every write passes the body middleware
                responses.setdefault(
                    "503", {"description": ERROR_DESCRIPTIONS["503"], "content": ERROR_CONTENT}
                )
    app.openapi_schema = schema
    return schema
