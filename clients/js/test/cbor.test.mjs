// Deterministic CBOR: RFC 8949 Appendix A examples and the rules of §4.2.1.
import assert from "node:assert/strict";
import { test } from "node:test";

import { encode, halfBits } from "../src/cbor.mjs";
import { bytesToHex } from "../src/device.mjs";

const hex = (value) => bytesToHex(encode(value));

test("integers in their shortest head (RFC 8949 Appendix A)", () => {
  const cases = [
    [0, "00"], [23, "17"], [24, "1818"], [100, "1864"], [1000, "1903e8"], [1000000, "1a000f4240"],
    [1000000000000, "1b000000e8d4a51000"], [18446744073709551615n, "1bffffffffffffffff"],
    [-1, "20"], [-100, "3863"], [-1000, "3903e7"], [-18446744073709551616n, "3bffffffffffffffff"],
  ];
  for (const [value, expected] of cases) assert.equal(hex(value), expected, String(value));
  assert.throws(() => encode(18446744073709551616n));
});

test("floats in the shortest width that holds them exactly", () => {
  const cases = [
    [0.5, "f93800"], [1.5, "f93e00"], [65504.5, "fa477fe080"], [65504.25, "fa477fe040"], [100000.5, "fa47c35040"],
    [5.960464477539063e-8, "f90001"], [0.00006103515625, "f90400"], [-4.1, "fbc010666666666666"],
    [1.1, "fb3ff199999999999a"], [3.4028234663852886e38, "fa7f7fffff"], [1e300, "fb7e37e43c8800759c"],
    [-0, "f98000"], [Infinity, "f97c00"], [-Infinity, "f9fc00"], [NaN, "f97e00"],
  ];
  for (const [value, expected] of cases) assert.equal(hex(value), expected, String(value));
  assert.equal(halfBits(65504), 0x7bff);
  assert.equal(halfBits(65520), null);
  assert.equal(halfBits(1 / 3), null);
});

test("text, bytes, arrays, simple values", () => {
  assert.equal(hex(""), "60");
  assert.equal(hex("IETF"), "6449455446");
  assert.equal(hex("\u00fc"), "62c3bc");
  assert.equal(hex(new Uint8Array([1, 2, 3, 4])), "4401020304");
  assert.equal(hex([1, [2, 3], [4, 5]]), "8301820203820405");
  assert.equal(hex([false, true, null]), "83f4f5f6");
  assert.throws(() => encode(undefined));
});

test("map keys sorted by their encoded bytes: shorter keys first, then bytewise", () => {
  assert.equal(hex({ b: 1, a: 2 }), "a2616102616201");
  const envelope = { payload: {}, device: "d", kind: "k", seq: 1, ts: 2, v: 1 };
  assert.equal(hex(envelope), "a6617601627473026373657101646b696e64616b66646576696365616467706179" + "6c6f6164a0");
  assert.equal(hex(new Map([["bb", 1], ["a", 2]])), "a261610262626201");
});
