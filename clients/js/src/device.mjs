// A reference device client for opendepin networks (docs/devices.md): device keys and ids, signed
// report envelopes in deterministic CBOR, batches, the onboarding texts and their EIP-191 signatures,
// and the two HTTP calls a device makes (POST /v1/devices, POST /v1/reports).

import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import { encode } from "./cbor.mjs";

export { bytesToHex, hexToBytes, encode };

export const ENVELOPE_VERSION = 1;
const textEncoder = new TextEncoder();

/** A device's key: Ed25519 (default) or P-256, from its 32-byte secret. */
export class DeviceKey {
  constructor(keyType, secret) {
    if (keyType !== "ed25519" && keyType !== "p256") {
      throw new Error(`key type must be ed25519 or p256, got ${keyType}`);
    }
    this.keyType = keyType;
    this.secret = typeof secret === "string" ? hexToBytes(secret) : secret;
    if (this.secret.length !== 32) throw new Error("a device secret is 32 bytes");
    this.publicKey =
      keyType === "ed25519" ? ed25519.getPublicKey(this.secret) : p256.getPublicKey(this.secret, true);
  }

  /** `ed25519:<32-byte key hex>` or `p256:<33-byte compressed point hex>`. */
  get deviceId() {
    return `${this.keyType}:${bytesToHex(this.publicKey)}`;
  }

  /** The signature of `message`: Ed25519 (64 bytes), or ECDSA P-256 over SHA-256, DER-encoded, with the
   * RFC 6979 deterministic nonce (any nonce verifies; a deterministic one needs no random source). */
  sign(message) {
    if (this.keyType === "ed25519") return ed25519.sign(message, this.secret);
    return p256.sign(sha256(message), this.secret, { lowS: false }).toDERRawBytes();
  }
}

/** The envelope map a device signs. */
export function envelope(device, kind, ts, seq, payload) {
  return { v: ENVELOPE_VERSION, kind, device: device.deviceId, ts, seq, payload };
}

/** SHA-256 of the envelope bytes, lower-case hex: the report's id. */
export function reportId(envelopeBytes) {
  return bytesToHex(sha256(envelopeBytes));
}

/** A signed report: `{ envelopeBytes, signature, id, wire }`; `wire` is the CBOR array
 * `[envelope bytes, signature]` that goes into a batch. */
export function signReport(device, kind, ts, seq, payload) {
  const envelopeBytes = encode(envelope(device, kind, ts, seq, payload));
  const signature = device.sign(envelopeBytes);
  return { envelopeBytes, signature, id: reportId(envelopeBytes), wire: encode([envelopeBytes, signature]) };
}

/** The body of POST /v1/reports (`application/cbor`): a CBOR array of signed reports. */
export function batch(reports) {
  return encode(reports.map((report) => report.wire ?? report));
}

function pythonFloat(x) {
  // Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 or from 1e16.
  if (!Number.isFinite(x)) throw new Error("attributes must be finite numbers");
  const [mantissa, exp] = x.toExponential().split("e");
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const text = String(x);
  return text.includes(".") ? text : `${text}.0`;
}

function jsonValue(value, isFloat) {
  if (typeof value === "number") {
    return Number.isInteger(value) && !isFloat ? String(value) : pythonFloat(value);
  }
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Attributes as signed: JSON with keys sorted, no spaces, non-ASCII as `\uXXXX`, numbers as Python's
 * `json` writes them. A whole number is written as an integer unless its name is in `floats` (`5.0`). */
export function canonicalAttributes(attributes, floats = []) {
  const floatNames = new Set(floats);
  const keys = Object.keys(attributes).sort();
  const parts = keys.map((key) => `${jsonValue(key, false)}:${jsonValue(attributes[key], floatNames.has(key))}`);
  return `{${parts.join(",")}}`;
}

function attributesLine(attributes, floats) {
  return attributes && Object.keys(attributes).length
    ? `\nattributes: ${canonicalAttributes(attributes, floats)}`
    : "";
}

/** The text a maker signs: network, device id, owner (lower case) and the maker's attributes. */
export function attestationText(network, deviceId, owner, attributes = {}, floats = []) {
  return (
    `opendepin onboarding\nnetwork: ${network}\ndevice: ${deviceId}\nowner: ${owner.toLowerCase()}` +
    attributesLine(attributes, floats)
  );
}

/** The text an owner signs: network, device id, H3 cell (resolution 12), nonce and owner attributes. */
export function locationText(network, deviceId, cell, nonce, attributes = {}, floats = []) {
  return (
    `opendepin location\nnetwork: ${network}\ndevice: ${deviceId}\ncell: ${cell}\nnonce: ${nonce}` +
    attributesLine(attributes, floats)
  );
}

/** An EVM account (maker or owner) from its 32-byte secret: EIP-55 address and EIP-191 text signing. */
export class Wallet {
  constructor(secret) {
    this.secret = typeof secret === "string" ? hexToBytes(secret.replace(/^0x/, "")) : secret;
    const point = secp256k1.getPublicKey(this.secret, false).slice(1);
    this.address = checksumAddress(bytesToHex(keccak_256(point).slice(12)));
  }

  /** The 65-byte `r ‖ s ‖ v` EIP-191 personal-message signature of `text` (v = 27 + recovery bit). */
  signText(text) {
    const message = textEncoder.encode(text);
    const prefix = textEncoder.encode(`\x19Ethereum Signed Message:\n${message.length}`);
    const digest = keccak_256(new Uint8Array([...prefix, ...message]));
    const signature = secp256k1.sign(digest, this.secret);
    const out = new Uint8Array(65);
    out.set(signature.toCompactRawBytes(), 0);
    out[64] = 27 + signature.recovery;
    return out;
  }
}

/** EIP-55 mixed-case checksum of a 20-byte hex address. */
export function checksumAddress(hex) {
  const lower = hex.replace(/^0x/, "").toLowerCase();
  const hash = bytesToHex(keccak_256(textEncoder.encode(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i += 1) out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  return out;
}

/** The JSON body of POST /v1/devices, signed by the maker and the owner wallets. */
export function onboardingRequest({
  network,
  device,
  maker,
  owner,
  cell,
  nonce = 1,
  makerAttributes = {},
  ownerAttributes = {},
  floats = [],
}) {
  const deviceId = device.deviceId;
  const attestation = attestationText(network, deviceId, owner.address, makerAttributes, floats);
  const location = locationText(network, deviceId, cell, nonce, ownerAttributes, floats);
  return {
    device_id: deviceId,
    owner: owner.address,
    maker: maker.address,
    maker_signature: `0x${bytesToHex(maker.signText(attestation))}`,
    attributes: makerAttributes,
    location: {
      cell,
      nonce,
      signature: `0x${bytesToHex(owner.signText(location))}`,
      attributes: ownerAttributes,
    },
  };
}

async function answer(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}

/** POST /v1/devices: `{ status, body }` (201 and the device, or a 4xx with `detail.reason`). */
export async function onboard(nodeUrl, request) {
  const response = await fetch(new URL("/v1/devices", nodeUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  return answer(response);
}

/** POST /v1/reports with a CBOR batch: `{ status, body }`; `body.results` holds one status per report. */
export async function sendReports(nodeUrl, reports) {
  const response = await fetch(new URL("/v1/reports", nodeUrl), {
    method: "POST",
    headers: { "content-type": "application/cbor" },
    body: batch(reports),
  });
  return answer(response);
}
