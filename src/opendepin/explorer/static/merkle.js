// OpenZeppelin StandardMerkleTree leaves and proofs, checked in the browser exactly as the node builds them
// (rewards/merkle.py) and as the distributor contract verifies them:
//   leaf = keccak256(keccak256(abi.encode(address, uint256)));  node = keccak256(sorted(a, b))
import { keccak_256 } from "./vendor/keccak.js";

export function hexToBytes(hex) {
  const clean = hex.trim().replace(/^0x/i, "");
  if (clean.length % 2 || /[^0-9a-f]/i.test(clean)) throw new Error(`not hex: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** abi.encode(address, uint256): two 32-byte words. */
export function encodeLeaf(address, amount) {
  const raw = hexToBytes(address);
  if (raw.length !== 20) throw new Error(`an address has 20 bytes: ${address}`);
  const value = BigInt(amount);
  if (value < 0n || value >= 1n << 256n) throw new Error(`not a uint256: ${amount}`);
  const out = new Uint8Array(64);
  out.set(raw, 12);
  out.set(hexToBytes(value.toString(16).padStart(64, "0")), 32);
  return out;
}

export function leafHash(address, amount) {
  return keccak_256(keccak_256(encodeLeaf(address, amount)));
}

function less(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

export function hashPair(a, b) {
  const joined = new Uint8Array(64);
  const [first, second] = less(a, b) ? [a, b] : [b, a];
  joined.set(first, 0);
  joined.set(second, 32);
  return keccak_256(joined);
}

/** The root a proof leads to from a leaf (OpenZeppelin MerkleProof.processProof). */
export function processProof(leaf, proof) {
  return proof.reduce((node, sibling) => hashPair(node, sibling), leaf);
}
