// Build an OpenZeppelin StandardMerkleTree from [[address, amount], ...] on stdin;
// print {root, proofs: [[...], ...]} for the values in input order. Used by tests as the reference.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const values = JSON.parse(input);
  const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
  const proofs = values.map((_, i) => tree.getProof(i));
  process.stdout.write(JSON.stringify({ root: tree.root, proofs }));
});
