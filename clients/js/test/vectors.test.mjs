// The test vectors of docs/devices.md, reproduced byte for byte by this client.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";

import {
  DeviceKey,
  Wallet,
  attestationText,
  batch,
  bytesToHex,
  encode,
  hexToBytes,
  locationText,
  onboardingRequest,
  signReport,
} from "../src/device.mjs";

const doc = readFileSync(new URL("../../../docs/devices.md", import.meta.url), "utf8");
const block = doc.match(/<!-- generated: test-vectors -->\n```json\n([\s\S]*?)\n```\n<!-- end: test-vectors -->/);
assert.ok(block, "docs/devices.md has a test-vectors block");
const vectors = JSON.parse(block[1]);

function labelSecret(label) {
  return bytesToHex(sha256(new TextEncoder().encode(`opendepin test vector: ${label}`)));
}

test("the fixed keys are SHA-256 of their labels", () => {
  for (const vector of vectors.reports) assert.equal(vector.secret, labelSecret(`${vector.key_type} device`));
  assert.equal(vectors.onboarding.maker_secret, labelSecret("maker"));
  assert.equal(vectors.onboarding.owner_secret, labelSecret("owner"));
});

for (const vector of vectors.reports) {
  test(`${vector.key_type} report: device id, envelope bytes, signature, id and wire bytes`, () => {
    const device = new DeviceKey(vector.key_type, vector.secret);
    assert.equal(device.deviceId, vector.device_id);
    const { kind, ts, seq, payload } = vector.envelope;
    assert.equal(bytesToHex(encode(vector.envelope)), vector.envelope_cbor);
    const report = signReport(device, kind, ts, seq, payload);
    assert.equal(bytesToHex(report.envelopeBytes), vector.envelope_cbor);
    assert.equal(bytesToHex(report.signature), vector.signature);
    assert.equal(report.id, vector.report_id);
    assert.equal(bytesToHex(report.wire), vector.wire);
    const envelopeBytes = hexToBytes(vector.envelope_cbor);
    const signature = hexToBytes(vector.signature);
    const valid =
      vector.key_type === "ed25519"
        ? ed25519.verify(signature, envelopeBytes, device.publicKey)
        : p256.verify(signature, sha256(envelopeBytes), device.publicKey, { lowS: false });
    assert.ok(valid, "the vector's signature verifies");
  });
}

test("batch of both reports", () => {
  const wires = vectors.reports.map((vector) => hexToBytes(vector.wire));
  assert.equal(bytesToHex(batch(wires)), vectors.batch);
});

test("onboarding: addresses, signed texts, signatures and the request body", () => {
  const o = vectors.onboarding;
  const maker = new Wallet(o.maker_secret);
  const owner = new Wallet(o.owner_secret);
  const device = new DeviceKey("ed25519", vectors.reports[0].secret);
  const r = o.request;
  assert.equal(maker.address, r.maker);
  assert.equal(owner.address, r.owner);
  assert.equal(attestationText(o.network, device.deviceId, owner.address, r.attributes), o.attestation_text);
  assert.equal(
    locationText(o.network, device.deviceId, r.location.cell, r.location.nonce, r.location.attributes),
    o.location_text,
  );
  const built = onboardingRequest({
    network: o.network,
    device,
    maker,
    owner,
    cell: r.location.cell,
    nonce: r.location.nonce,
    makerAttributes: r.attributes,
    ownerAttributes: r.location.attributes,
  });
  assert.deepEqual(built, r);
});
