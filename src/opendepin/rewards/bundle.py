"""The epoch bundle: one self-contained file from which anyone recomputes an epoch (docs/epoch-bundle.md).

A bundle is deterministic CBOR (RFC 8949 §4.2) of one map:

- `format` (`opendepin-epoch-bundle/1`) and `engine_version` (of the node that closed the epoch);
- `network`: the parts of network.toml an epoch depends on (name, token, emission, epochs, rewards,
  makers, ingest, sectors);
- the inputs: `window`, `devices` (snapshot rows with attributes and signed onboarding records), `reports`
  (each `[envelope bytes, signature, received_at]`, exactly the bytes the device signed), `prior_cumulative`,
  `prior_state`, `context`, `rejections`, `usage` (each `[receipt bytes, payer signature, received_at]`, with
  the device's countersignature as a fourth element when it countersigned) and
  `price_wad` (the oracle price that values usage, or null), `challenges` (per sector, each issued
  challenge with the seed it was derived from) and `prior_device_state` (per sector and device);
- `outputs`: what the node published: the manifest (whose `inputs_digest` hashes the inputs above and whose
  keccak-256 the oracles post on chain) and every row behind it (verdicts, notes, device and owner rewards,
  sector state, the per-device state stored).

Pure: building, encoding and decoding only; reading the store or a chain is the caller's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cbor2

from opendepin.config import NetworkConfig
from opendepin.sectors.base import DeviceInfo, EpochWindow

BUNDLE_FORMAT = "opendepin-epoch-bundle/1"
BUNDLE_KEYS = frozenset(
    {
        "format",
        "engine_version",
        "network",
        "window",
        "devices",
        "reports",
        "prior_cumulative",
        "prior_state",
        "context",
        "rejections",
        "usage",
        "price_wad",
        "challenges",
        "prior_device_state",
        "outputs",
    }
)
OUTPUT_KEYS = frozenset(
    {"manifest", "verdicts", "device_rewards", "owner_rewards", "notes", "sector_state", "device_state"}
)
NETWORK_SECTIONS = ("name", "token", "emission", "epochs", "rewards", "makers", "ingest", "sectors", "shared")


class BundleError(ValueError):
    """A file that is not a readable epoch bundle; the message says what is wrong."""


@dataclass(frozen=True)
class SignedWire:
    """One accepted report as the device signed it, with the time the node received it."""

    envelope: bytes
    signature: bytes
    received_at: int
    countersignature: bytes = b""
    """A usage receipt's device countersignature (reports and client-only receipts: empty)."""


@dataclass(frozen=True)
class EpochOutputs:
    """What the node published for an epoch: the manifest and every row behind it."""

    manifest: Mapping[str, Any]
    verdicts: Sequence[Sequence[Any]] = ()
    """[report_id, device_id, reason, evidence]"""
    device_rewards: Sequence[Sequence[Any]] = ()
    """[device_id, category, units, amount, breakdown]"""
    owner_rewards: Sequence[Sequence[Any]] = ()
    """[owner, amount this epoch, cumulative]"""
    notes: Sequence[Sequence[Any]] = ()
    """[device_id, reason, evidence]"""
    sector_state: Mapping[str, Any] = field(default_factory=dict)
    device_state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """sector → device → state stored this epoch (None: forgotten)"""

    @classmethod
    def of(cls, rows: PublishedRows, device_state: Mapping[str, Mapping[str, Any]]) -> EpochOutputs:
        """The published form of a stored epoch or of a recomputation (rows as lists)."""
        return cls(
            manifest=rows.manifest,
            verdicts=[list(v) for v in rows.verdicts],
            device_rewards=[list(r) for r in rows.device_rewards],
            owner_rewards=[list(r) for r in rows.owner_rewards],
            notes=[list(n) for n in rows.notes],
            sector_state=rows.sector_state,
            device_state=device_state,
        )


class PublishedRows(Protocol):
    """What a stored epoch (EpochRecord) and a recomputation (EpochResult) both hold."""

    @property
    def manifest(self) -> Mapping[str, Any]: ...
    @property
    def verdicts(self) -> Sequence[Sequence[Any]]: ...
    @property
    def device_rewards(self) -> Sequence[Sequence[Any]]: ...
    @property
    def owner_rewards(self) -> Sequence[Sequence[Any]]: ...
    @property
    def notes(self) -> Sequence[Sequence[Any]]: ...
    @property
    def sector_state(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class EpochBundle:
    """A decoded bundle: parameters, inputs with the signed bytes, and the published outputs."""

    network: Mapping[str, Any]
    window: EpochWindow
    devices: Sequence[Sequence[Any]]
    """[device_id, key_type, owner, maker, location, onboarded_at, attributes, onboarding record]"""
    reports: Sequence[SignedWire]
    prior_cumulative: Mapping[str, int]
    prior_state: Mapping[str, Any]
    context: Mapping[str, Any]
    rejections: Mapping[str, int]
    outputs: EpochOutputs
    engine_version: str
    usage: Sequence[SignedWire] = ()
    """Usage receipts as the payers signed them: [receipt bytes, signature, received_at]."""
    price_wad: int | None = None
    challenges: Mapping[str, Sequence[Sequence[Any]]] = field(default_factory=dict)
    """sector → challenge rows [kind, id, issued_at, seed entropy, seed period, device, payload]"""
    prior_device_state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    format: str = BUNDLE_FORMAT

    def config(self) -> NetworkConfig:
        """The network definition the epoch was computed with (store and chain take their defaults)."""
        from opendepin.config import ConfigError, parse_config

        try:
            return parse_config(dict(self.network))
        except ConfigError as error:
            raise BundleError(f"the bundle's network definition is invalid: {error}") from None

    def device_infos(self) -> dict[str, DeviceInfo]:
        from opendepin.rewards.digest import device_from_row

        return {row[0]: device_from_row(row) for row in self.devices}

    def onboarding(self) -> dict[str, dict[str, Any]]:
        return {row[0]: dict(row[7]) for row in self.devices if row[7]}


def network_section(config: NetworkConfig) -> dict[str, Any]:
    """The parts of the network definition a bundle carries (not where data is stored nor which chain)."""
    dumped = config.model_dump(mode="json")
    return {key: dumped[key] for key in NETWORK_SECTIONS}


def encode_bundle(bundle: EpochBundle) -> bytes:
    """Deterministic CBOR of the bundle: the same epoch always gives the same bytes."""
    outputs = bundle.outputs
    body = {
        "format": bundle.format,
        "engine_version": bundle.engine_version,
        "network": dict(bundle.network),
        "window": [bundle.window.number, bundle.window.start, bundle.window.end],
        "devices": [list(row) for row in bundle.devices],
        "reports": [[w.envelope, w.signature, w.received_at] for w in bundle.reports],
        "prior_cumulative": sorted([owner, amount] for owner, amount in bundle.prior_cumulative.items()),
        "prior_state": dict(bundle.prior_state),
        "context": dict(bundle.context),
        "rejections": dict(sorted(bundle.rejections.items())),
        "usage": [
            [w.envelope, w.signature, w.received_at, *([w.countersignature] if w.countersignature else [])]
            for w in bundle.usage
        ],
        "price_wad": bundle.price_wad,
        "challenges": {sector: [list(r) for r in rows] for sector, rows in sorted(bundle.challenges.items())},
        "prior_device_state": {k: dict(v) for k, v in sorted(bundle.prior_device_state.items())},
        "outputs": {
            "manifest": dict(outputs.manifest),
            "verdicts": [list(row) for row in outputs.verdicts],
            "device_rewards": [list(row) for row in outputs.device_rewards],
            "owner_rewards": [list(row) for row in outputs.owner_rewards],
            "notes": [list(row) for row in outputs.notes],
            "sector_state": dict(outputs.sector_state),
            "device_state": {k: dict(v) for k, v in sorted(outputs.device_state.items())},
        },
    }
    return bytes(cbor2.dumps(body, canonical=True))


def bundle_sha256(data: bytes) -> str:
    """The bundle file's content address."""
    return "0x" + hashlib.sha256(data).hexdigest()


def _need(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise BundleError(f"bundle field {key!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def decode_bundle(data: bytes) -> EpochBundle:
    """Parse a bundle; raises BundleError (never anything else) on bytes that are not one."""
    try:
        body = cbor2.loads(data)
    except Exception as error:  # cbor2 raises many types for damaged input
        raise BundleError(f"not a CBOR epoch bundle: {type(error).__name__}: {error}") from None
    if not isinstance(body, dict):
        raise BundleError("not an epoch bundle: the top level is not a map")
    if body.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"unknown bundle format {body.get('format')!r}; this engine reads {BUNDLE_FORMAT}")
    if (
        set(body) != BUNDLE_KEYS
        or not isinstance(body.get("outputs"), dict)
        or set(body["outputs"]) != OUTPUT_KEYS
    ):
        raise BundleError(
            f"an epoch bundle has exactly the fields {sorted(BUNDLE_KEYS)} (outputs: {sorted(OUTPUT_KEYS)})"
        )
    try:
        if bytes(cbor2.dumps(body, canonical=True)) != data:
            raise BundleError("the bundle is not deterministic CBOR (it was altered or re-encoded)")
        window = _need(body, "window", list)
        outputs = _need(body, "outputs", dict)
        reports = _signed_wires(body, "reports")
        usage = _signed_wires(body, "usage", countersigned=True)
        price_wad = body.get("price_wad")
        if price_wad is not None and (type(price_wad) is not int or price_wad <= 0):
            raise BundleError("price_wad must be a positive integer or null")
        devices = _need(body, "devices", list)
        if not all(isinstance(row, list) and len(row) == 8 for row in devices):
            raise BundleError("every device row must have 8 fields")
        return EpochBundle(
            network=_need(body, "network", dict),
            window=EpochWindow(int(window[0]), int(window[1]), int(window[2])),
            devices=devices,
            reports=reports,
            prior_cumulative={str(o): int(a) for o, a in _need(body, "prior_cumulative", list)},
            prior_state=_need(body, "prior_state", dict),
            context=_need(body, "context", dict),
            rejections={str(k): int(v) for k, v in _need(body, "rejections", dict).items()},
            outputs=EpochOutputs(
                manifest=_need(outputs, "manifest", dict),
                verdicts=_need(outputs, "verdicts", list),
                device_rewards=_need(outputs, "device_rewards", list),
                owner_rewards=_need(outputs, "owner_rewards", list),
                notes=_need(outputs, "notes", list),
                sector_state=_need(outputs, "sector_state", dict),
                device_state=_need(outputs, "device_state", dict),
            ),
            engine_version=_need(body, "engine_version", str),
            usage=usage,
            price_wad=price_wad,
            challenges=_need(body, "challenges", dict),
            prior_device_state=_need(body, "prior_device_state", dict),
        )
    except BundleError:
        raise
    except (TypeError, ValueError, IndexError, KeyError) as error:
        raise BundleError(f"malformed epoch bundle: {type(error).__name__}: {error}") from None


def _signed_wires(body: Mapping[str, Any], key: str, countersigned: bool = False) -> list[SignedWire]:
    """`[bytes, signature, received_at]` rows of `key`, checked for their types (usage receipts may carry a
    fourth, non-empty element: the device's countersignature)."""
    rows = _need(body, key, list)
    sizes = (3, 4) if countersigned else (3,)
    wires = [
        SignedWire(bytes(row[0]), bytes(row[1]), int(row[2]), bytes(row[3]) if len(row) == 4 else b"")
        for row in rows
        if isinstance(row, list)
        and len(row) in sizes
        and isinstance(row[0], bytes)
        and isinstance(row[1], bytes)
        and type(row[2]) is int
        and (len(row) == 3 or (isinstance(row[3], bytes) and row[3]))
    ]
    if len(wires) != len(rows):
        extra = " (, countersignature bytes)" if countersigned else ""
        raise BundleError(f"every entry of {key} must be [bytes, signature bytes, received_at int{extra}]")
    return wires
