"""Pinned epoch vectors: checked-in bundles recompute to their checked-in roots and amounts, in a fresh
process, also with numpy's optimised CPU kernels disabled and OpenBLAS on a generic core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VECTORS = sorted(p.stem for p in (HERE / "networks").glob("*.toml"))
GENERIC_CPU = {
    # numpy ≥ 2.4 groups x86 features as X86_V2 (baseline) / X86_V3 / X86_V4 / AVX512_*; older releases name
    # them one by one. Disabling what the machine has makes numpy use its baseline kernels (different bits
    # for exp, log, sin … on machines with AVX2 or AVX-512).
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Prescott",
}
RECOMPUTE = """
import hashlib, json, sys
import numpy as np
probe = np.exp(np.linspace(0.1, 50.0, 100_001))  # numpy's exp differs in the last bit between its kernels
from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import bundle_sha256, decode_bundle
data = open(sys.argv[1], "rb").read()
bundle = decode_bundle(data)
report = verify_bundle(bundle)
from opendepin.rewards.audit import recompute_bundle
from opendepin.sectors.registry import load_sectors
config = bundle.config()
result, problems = recompute_bundle(bundle, load_sectors(config), config)
print(json.dumps({
    "matches": report.matches,
    "problems": report.input_problems[:5] + [d.describe() for d in report.differences[:5]],
    "bundle_sha256": bundle_sha256(data),
    "root": result.manifest["root"],
    "inputs_digest": result.manifest["inputs_digest"],
    "owners": {owner: str(amount) for owner, amount in result.manifest["leaves"]},
    "numpy_exp": hashlib.sha256(probe.tobytes()).hexdigest(),
}))
"""


def _recompute(name: str, env: dict[str, str]) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", RECOMPUTE, str(HERE / f"{name}.bundle")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("cpu", ["native", "generic"])
def test_vector_recomputes_to_its_pinned_root(name: str, cpu: str) -> None:
    expected = json.loads((HERE / f"{name}.expected.json").read_text())
    got = _recompute(name, GENERIC_CPU if cpu == "generic" else {})
    assert got["bundle_sha256"] == expected["bundle_sha256"], "the checked-in bundle changed"
    assert got["matches"], got["problems"]
    assert got["root"] == expected["root"]
    assert got["inputs_digest"] == expected["inputs_digest"]
    assert got["owners"] == expected["owners"]


def test_the_vectors_cover_what_they_say() -> None:
    poc = json.loads((HERE / "poc.expected.json").read_text())
    assert {"beacons", "witnesses"} <= set(poc["totals"]), poc["totals"]
    categories = json.loads((HERE / "categories.expected.json").read_text())
    assert {"coverage", "beacons", "witnesses", "oracles", "operations"} <= set(categories["totals"])
    assert "0x00000000000000000000000000000000000000A1".lower() in {o.lower() for o in categories["owners"]}


def test_the_generic_cpu_run_really_uses_other_kernels() -> None:
    """On a machine with AVX-512 the generic run's numpy computes float64 exp with other bits, so the
    vectors' equality above is a real cross-kernel check; on an AVX2-only machine numpy's float64 exp is
    the baseline kernel in both runs (measured: the same bits), and the check only shows the runs agree."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    native, generic = _recompute("heartbeats", {}), _recompute("heartbeats", GENERIC_CPU)
    if features.get("AVX512F"):
        assert native["numpy_exp"] != generic["numpy_exp"]
    assert native["root"] == generic["root"]
