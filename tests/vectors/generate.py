"""Regenerate the pinned epoch vectors — only when a change of the engine is meant to change results.

    .venv/bin/python tests/vectors/generate.py

For each network in tests/vectors/networks/, runs a small local network (`depin up` without a chain) for two
epochs, exports epoch 1 as a bundle (`NAME.bundle`) and writes what it must recompute to
(`NAME.expected.json`: root, manifest digests, per-owner cumulative amounts). Check the diff of the expected
files before committing: every changed amount must be explained by the change of the engine.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from opendepin.rewards.bundle import bundle_sha256, decode_bundle
from opendepin.up import UpOptions, run_network

HERE = Path(__file__).resolve().parent
SIZES = {"heartbeats": 12, "poc": 36, "categories": 30}
EPOCH = 1


def generate(name: str, network: Path, out: Path) -> dict[str, object]:
    """Run the network, export epoch 1, return its expected figures."""
    from opendepin.cli import _open_node  # the same node `depin epoch export` opens

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        run_network(
            UpOptions(data_dir=data_dir, epochs=EPOCH + 1, devices=SIZES[name], network=network, chain="none")
        )
        data = _open_node(data_dir).export_epoch(EPOCH)
    (out / f"{name}.bundle").write_bytes(data)
    manifest = decode_bundle(data).outputs.manifest
    return {
        "bundle_sha256": bundle_sha256(data),
        "epoch": manifest["number"],
        "root": manifest["root"],
        "inputs_digest": manifest["inputs_digest"],
        "params_digest": manifest["params_digest"],
        "emitted": str(manifest["emitted"]),
        "paid": str(manifest["paid"]),
        "totals": {k: str(v) for k, v in manifest["totals"].items()},
        "owners": {owner: str(amount) for owner, amount in manifest["leaves"]},
    }


def main(names: list[str]) -> None:
    for network in sorted((HERE / "networks").glob("*.toml")):
        name = network.stem
        if names and name not in names:
            continue
        expected = generate(name, network, HERE)
        (HERE / f"{name}.expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
        print(f"{name}: root {expected['root']}, {len(expected['owners'])} owners")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1:])
