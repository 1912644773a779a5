// Deterministic CBOR (RFC 8949 §4.2.1), the encoding of opendepin's report envelopes (docs/devices.md):
// shortest heads, definite lengths, map keys sorted by their encoded bytes, floats in the shortest of
// half / single / double precision that holds their value exactly, no tags.
//
// JavaScript has one number type: a number without a fraction is encoded as an integer (the node takes an
// integer wherever a payload wants a float); other numbers as floats. BigInt values are integers.

const textEncoder = new TextEncoder();

function head(major, value) {
  const big = BigInt(value);
  if (big < 0n) throw new RangeError("a CBOR head argument cannot be negative");
  if (big < 24n) return Uint8Array.of((major << 5) | Number(big));
  if (big < 0x100n) return Uint8Array.of((major << 5) | 24, Number(big));
  if (big < 0x10000n) return Uint8Array.of((major << 5) | 25, Number(big >> 8n), Number(big & 0xffn));
  const long = big >= 0x100000000n;
  if (big >= 1n << 64n) throw new RangeError("integer does not fit 64 bits");
  const size = long ? 8 : 4;
  const out = new Uint8Array(1 + size);
  out[0] = (major << 5) | (long ? 27 : 26);
  for (let i = 0; i < size; i += 1) out[size - i] = Number((big >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** The 16 bits of `x` as an IEEE 754 half-precision float, or null when a half cannot hold it exactly. */
export function halfBits(x) {
  if (Number.isNaN(x)) return 0x7e00;
  if (x === Infinity) return 0x7c00;
  if (x === -Infinity) return 0xfc00;
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) {
    const mantissa = a * 2 ** 24; // subnormal: a multiple of 2^-24 below 2^-14
    return Number.isInteger(mantissa) ? sign | mantissa : null;
  }
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent -= 1;
  if (2 ** (exponent + 1) <= a) exponent += 1;
  if (exponent > 15) return null;
  const mantissa = (a / 2 ** exponent - 1) * 1024;
  return Number.isInteger(mantissa) ? sign | ((exponent + 15) << 10) | mantissa : null;
}

function float(x) {
  const half = halfBits(x);
  if (half !== null) return Uint8Array.of(0xf9, half >> 8, half & 0xff);
  if (Math.fround(x) === x) {
    const out = new Uint8Array(5);
    out[0] = 0xfa;
    new DataView(out.buffer).setFloat32(1, x);
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = 0xfb;
  new DataView(out.buffer).setFloat64(1, x);
  return out;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function integer(value) {
  const big = BigInt(value);
  return big >= 0n ? head(0, big) : head(1, -1n - big);
}

/** `value` as deterministic CBOR bytes. Maps are plain objects or `Map`s with text keys. */
export function encode(value) {
  if (value === null) return Uint8Array.of(0xf6);
  if (value === true) return Uint8Array.of(0xf5);
  if (value === false) return Uint8Array.of(0xf4);
  if (typeof value === "bigint") return integer(value);
  if (typeof value === "number") {
    return Number.isInteger(value) && !Object.is(value, -0) && Math.abs(value) <= Number.MAX_SAFE_INTEGER
      ? integer(value)
      : float(value);
  }
  if (typeof value === "string") {
    const bytes = textEncoder.encode(value);
    return concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return concat([head(2, value.length), value]);
  if (Array.isArray(value)) return concat([head(4, value.length), ...value.map(encode)]);
  if (typeof value !== "object") throw new TypeError(`cannot encode ${typeof value} as CBOR`);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  const pairs = entries.map(([key, item]) => {
    if (typeof key !== "string") throw new TypeError("map keys must be text");
    return [encode(key), encode(item)];
  });
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  return concat([head(5, pairs.length), ...pairs.flat()]);
}
