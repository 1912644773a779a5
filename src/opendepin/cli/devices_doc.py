"""The generated parts of docs/devices.md: every report kind's payload schema and the test vectors.

Both are computed from the code (the sectors' pydantic payload models, the envelope encoder, the device and
wallet keys, the onboarding texts), so the document cannot drift from what the node accepts: a test
regenerates them and compares (`python -m opendepin.cli.devices_doc --write docs/devices.md` rewrites the
blocks between the `<!-- generated: NAME -->` and `<!-- end: NAME -->` markers).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opendepin.sectors.base import SectorPlugin

VECTOR_NETWORK = "opendepin-vectors"
"""The network name the onboarding vector's texts are signed for."""
VECTOR_TS = 1_767_225_600
"""2026-01-01T00:00:00Z, the device time of every vector report."""


def vector_secret(label: str) -> bytes:
    """A fixed 32-byte private key: SHA-256 of `opendepin test vector: <label>`."""
    return hashlib.sha256(f"opendepin test vector: {label}".encode()).digest()


def _type_of(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """A payload field's JSON schema → the CBOR type a device sends, in words."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"map `{name}`" if name in defs else "map"
    if "anyOf" in schema:
        return " or ".join(_type_of(option, defs) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "number":
        return "float (or integer)"
    if kind == "integer":
        return "unsigned integer" if schema.get("minimum", -1) >= 0 else "integer"
    if kind == "string":
        return "byte string" if schema.get("format") == "binary" else "text string"
    if kind == "boolean":
        return "true/false"
    if kind == "null":
        return "null"
    if kind == "array":
        items = schema.get("items")
        return f"array of {_type_of(items, defs)}" if isinstance(items, Mapping) else "array"
    if kind == "object":
        return "map"
    return json.dumps(schema, sort_keys=True)


def _constraints(schema: Mapping[str, Any]) -> str:
    """The bounds a field's value must keep, from its JSON schema."""
    parts = []
    for key, text in (
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "length ≥ {}"),
        ("maxLength", "length ≤ {}"),
        ("minItems", "≥ {} items"),
        ("maxItems", "≤ {} items"),
        ("pattern", "matches `{}`"),
        ("const", "= {}"),
    ):
        if key in schema:
            parts.append(text.format(schema[key]))
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
    return "; ".join(parts) or "-"


def _fields_table(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    lines = ["| field | type | bounds | required |", "|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        needed = "yes" if name in required else f"no (default `{json.dumps(field.get('default'))}`)"
        lines.append(f"| `{name}` | {_type_of(field, defs)} | {_constraints(field)} | {needed} |")
    return lines


def kinds_markdown(plugins: Iterable[SectorPlugin], default_past: int, default_future: int) -> str:
    """Every report kind of `plugins`: its sector, ingest policy and payload fields (from the pydantic
    model the gate validates with, in strict mode). Kinds sorted by name; a kind offered by several
    plug-in configurations is shown once."""
    kinds: dict[str, tuple[SectorPlugin, Any]] = {}
    for plugin in plugins:
        for kind, model in plugin.report_kinds().items():
            kinds.setdefault(kind, (plugin, model))
    blocks = []
    for kind in sorted(kinds):
        plugin, model = kinds[kind]
        schema = model.model_json_schema()
        defs = schema.get("$defs", {})
        policy = plugin.ingest_policy(kind)
        past = policy.max_past_seconds if policy.max_past_seconds is not None else default_past
        future = policy.max_future_seconds if policy.max_future_seconds is not None else default_future
        window = f"device time at most {past:,} s before and {future:,} s after the node receives it" + (
            " (the network's `[ingest]` defaults)" if policy.max_past_seconds is None else ""
        )
        counted = (
            "counted in the epoch open when it arrives (store-and-forward)"
            if policy.assign_by == "receive_time"
            else "counted in the epoch of its device time `ts`"
        )
        seq = (
            "`seq` above the device's last accepted one"
            if policy.seq == "increasing"
            else "`seq` never used before by the device, in any order"
        )
        description = " ".join((model.__doc__ or "").split())
        lines = [
            f"### `{kind}` ({plugin.name} sector)",
            "",
            description,
            "",
            f"Ingest: {window}; {counted}; {seq}.",
            "",
            *_fields_table(schema, defs),
        ]
        for name, sub in defs.items():
            lines += ["", f"`{name}`: " + " ".join((sub.get("description") or "").split()), ""]
            lines += _fields_table(sub, defs)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _report_vector(key_type: str, kind: str, seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    from opendepin.identity.keys import DeviceKey
    from opendepin.reports.envelope import Envelope, compute_report_id, encode_envelope

    secret = vector_secret(f"{key_type} device")
    key = DeviceKey(key_type, secret)  # type: ignore[arg-type]
    envelope = Envelope(kind=kind, device=key.device_id, ts=VECTOR_TS, seq=seq, payload=payload)
    data = encode_envelope(envelope)
    if key_type == "p256":  # RFC 6979 deterministic ECDSA, so the vector's bytes are fixed
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        private = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1())
        signature = private.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    else:
        signature = key.sign(data)
    import cbor2

    return {
        "key_type": key_type,
        "secret": secret.hex(),
        "device_id": key.device_id,
        "envelope": envelope.to_map(),
        "envelope_cbor": data.hex(),
        "signature": signature.hex(),
        "report_id": compute_report_id(data),
        "wire": cbor2.dumps([data, signature]).hex(),
    }


def device_vectors() -> dict[str, Any]:
    """Fixed keys, two signed reports (Ed25519 and P-256), a batch holding both, and an onboarding
    request (maker attestation and owner location assertion) with every byte they produce."""
    import cbor2
    import h3

    from opendepin.identity.attestation import attestation_message, location_message
    from opendepin.identity.wallets import Wallet

    heartbeat = _report_vector("ed25519", "wireless.heartbeat", 1, {"lat": 52.52, "lon": 13.405})
    speedtest = _report_vector(
        "p256", "wireless.speedtest", 7, {"download_mbps": 65536.5, "upload_mbps": 18.75, "latency_ms": 12.25}
    )
    batch = cbor2.dumps([bytes.fromhex(heartbeat["wire"]), bytes.fromhex(speedtest["wire"])])
    maker_secret, owner_secret = vector_secret("maker"), vector_secret("owner")
    maker, owner = Wallet(maker_secret), Wallet(owner_secret)
    device_id = heartbeat["device_id"]
    maker_attributes = {"mode": "full", "region": "EU868"}
    owner_attributes = {"gain_dbi": 5.8}
    cell = h3.latlng_to_cell(52.52, 13.405, 12)
    nonce = 1
    attestation = attestation_message(VECTOR_NETWORK, device_id, owner.address, maker_attributes)
    location = location_message(VECTOR_NETWORK, device_id, cell, nonce, owner_attributes)
    maker_signature = "0x" + maker.sign_text(attestation).hex()
    location_signature = "0x" + owner.sign_text(location).hex()
    return {
        "reports": [heartbeat, speedtest],
        "batch": batch.hex(),
        "onboarding": {
            "network": VECTOR_NETWORK,
            "maker_secret": maker_secret.hex(),
            "owner_secret": owner_secret.hex(),
            "attestation_text": attestation,
            "location_text": location,
            "request": {
                "device_id": device_id,
                "owner": owner.address,
                "maker": maker.address,
                "maker_signature": maker_signature,
                "attributes": maker_attributes,
                "location": {
                    "cell": cell,
                    "nonce": nonce,
                    "signature": location_signature,
                    "attributes": owner_attributes,
                },
            },
        },
    }


def vectors_markdown() -> str:
    """The test vectors as one JSON block (byte strings in lower-case hex)."""
    return "```json\n" + json.dumps(device_vectors(), indent=2, ensure_ascii=False) + "\n```"


def _block(name: str) -> re.Pattern[str]:
    start, end = re.escape(f"<!-- generated: {name} -->"), re.escape(f"<!-- end: {name} -->")
    return re.compile(rf"{start}\n(.*?){end}", re.S)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with the lines between `<!-- generated: name -->` and `<!-- end: name -->` set to `content`;
    raises ValueError when the markers are missing."""
    pattern = _block(name)
    if not pattern.search(text):
        raise ValueError(f"no <!-- generated: {name} --> … <!-- end: {name} --> block")
    replacement = f"<!-- generated: {name} -->\n{content}\n<!-- end: {name} -->"
    return pattern.sub(lambda _match: replacement, text, count=1)


def read_block(text: str, name: str) -> str:
    """The content of the generated block `name` of `text`."""
    match = _block(name).search(text)
    if match is None:
        raise ValueError(f"no <!-- generated: {name} --> … <!-- end: {name} --> block")
    return match.group(1).removesuffix("\n")


def documented_plugins(networks: Iterable[Path]) -> list[SectorPlugin]:
    """Every installed sector with its default parameters, then the sectors of each `networks` file
    (which may enable optional report kinds, such as proof-of-coverage beacons)."""
    from opendepin.config import load_config
    from opendepin.sectors.registry import available_sectors, build_sector, load_sectors

    plugins = [build_sector(name, cls, {}) for name, cls in available_sectors().items()]
    for path in networks:
        plugins.extend(load_sectors(load_config(path)).values())
    return plugins


def generated_blocks(networks: Iterable[Path]) -> dict[str, str]:
    """The generated blocks of docs/devices.md: `report-kinds` and `test-vectors`."""
    from opendepin.config import IngestConfig

    ingest = IngestConfig()
    kinds = kinds_markdown(documented_plugins(networks), ingest.max_past_seconds, ingest.max_future_seconds)
    return {"report-kinds": kinds, "test-vectors": vectors_markdown()}


def main(argv: list[str]) -> None:
    """`--write DOC [NETWORK.toml …]`: rewrite the generated blocks of DOC."""
    if len(argv) < 2 or argv[0] != "--write":
        raise SystemExit(
            "usage: python -m opendepin.cli.devices_doc --write docs/devices.md [NETWORK.toml …]"
        )
    doc = Path(argv[1])
    text = doc.read_text()
    for name, content in generated_blocks([Path(arg) for arg in argv[2:]]).items():
        text = replace_block(text, name, content)
    doc.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
