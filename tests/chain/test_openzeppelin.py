"""Proofs made by OpenZeppelin's own StandardMerkleTree (JavaScript, tools/js) verify in the distributor:
an independent reference for the on-chain leaf hashing and proof check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boa
import pytest

from opendepin.chain.signing import sign_epoch
from tests.chain.conftest import ORACLE_KEYS
from tests.chain.helpers import addr_of, key_of

JS = Path(__file__).resolve().parents[2] / "tools" / "js"
SCRIPT = """
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const values = JSON.parse(process.argv[1]);
const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
const out = { root: tree.root, proofs: {} };
for (const [i, v] of tree.entries()) out.proofs[v[0]] = tree.getProof(i);
console.log(JSON.stringify(out));
"""

pytestmark = [
    pytest.mark.usefixtures("isolate"),
    pytest.mark.skipif(
        shutil.which("node") is None or not (JS / "node_modules" / "@openzeppelin" / "merkle-tree").exists(),
        reason="node or tools/js/node_modules missing (run `npm install` in tools/js)",
    ),
]


def openzeppelin_tree(values: list[tuple[str, int]]) -> dict[str, Any]:
    payload = json.dumps([[a, str(v)] for a, v in values])
    done = subprocess.run(
        ["node", "-e", SCRIPT, payload], cwd=JS, capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(done.stdout))


def test_openzeppelin_proofs_claim_on_chain(system: dict[str, Any]) -> None:
    distributor, token = system["distributor"], system["token"]
    values = [(addr_of(key_of(900 + i)), (i * 7_919 + 1) * 10**15) for i in range(13)]
    tree = openzeppelin_tree(values)
    root = bytes.fromhex(tree["root"][2:])
    total = sum(v for _, v in values)
    sigs = sign_epoch(ORACLE_KEYS[:1], boa.env.evm.patch.chain_id, distributor.address, 0, root, root, total)
    distributor.post_epoch(0, root, root, total, sigs)
    for address, amount in values:
        proof = [bytes.fromhex(p[2:]) for p in tree["proofs"][address]]
        assert distributor.claim(address, amount, proof) == amount
        assert token.balanceOf(address) == amount
    assert distributor.total_claimed() == total
