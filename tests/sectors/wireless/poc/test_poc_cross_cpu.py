"""The same proof-of-coverage epochs give byte-identical money on different CPU code paths.

Three epochs of a small simulated network (several dozen hotspots, a third of them adversaries of every kind,
so that the trust detectors fire) are evaluated in two fresh processes: once with numpy's optimised SIMD
kernels (AVX2 / AVX-512 on this machine), once with every dispatched SIMD target disabled
(`NPY_DISABLE_CPU_FEATURES`) and OpenBLAS forced to its generic kernels. Contributions, trust (as handed to
the reward formula), verdicts, notes and carried state must be the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from opendepin.sectors.base import EpochWindow
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.runner import EPOCH_SECONDS, GENESIS, build_registry
from opendepin.sectors.wireless.sim.scenarios import build_fleet
from tests.test_detmath import simd_disabled_env

SRC = Path(__file__).resolve().parents[4] / "src"

EVALUATE_EPOCHS = r"""
import json, sys
import opendepin.sectors.wireless.poc.evaluate as evaluate
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.wireless.poc.params import PocParams

captured = []
build = evaluate.build_contributions

def spy(units, scales, trust, params, *rest):
    # trust and hex scale exactly as the reward formula receives them (repr: every bit of a float)
    captured.append({"trust": {k: repr(v) for k, v in sorted(trust.items())},
                     "scales": {k: repr(v) for k, v in sorted(scales.items())}})
    return build(units, scales, trust, params, *rest)

evaluate.build_contributions = spy
doc = json.load(open(sys.argv[1]))
devices = {d["device_id"]: DeviceInfo(**d) for d in doc["devices"]}
state, out = {}, []
for epoch in doc["epochs"]:
    reports = [ReportRecord(**r) for r in epoch["reports"]]
    data = SectorInput(EpochWindow(*epoch["window"]), devices, reports, state,
                       {"wireless.entropy": epoch["entropies"]})
    outcome = evaluate.evaluate_poc(data, PocParams())
    state = json.loads(json.dumps(outcome.state))
    out.append({
        "contributions": [[c.device_id, c.category, c.units, c.breakdown] for c in outcome.contributions],
        "verdicts": [[v.report_id, v.reason, v.evidence] for v in outcome.verdicts],
        "notes": [[n.device_id, n.reason, n.evidence] for n in outcome.notes],
        "state": outcome.state,
        "reward_inputs": captured[-1],
    })
print(json.dumps(out, sort_keys=True))
"""


def write_epochs(path: Path, hotspots: int = 96, epochs: int = 3, seed: int = 5) -> None:
    """Simulate `epochs` days of a mixed-adversary network and write the evaluation inputs as JSON."""
    fleet = build_fleet("mixed", hotspots, seed, adversary_share=0.3)
    physics, params = RadioPhysics(), PocParams()
    rng = np.random.default_rng(seed + 1)
    links = build_radio_links(fleet, physics, rng)
    doc: dict[str, Any] = {
        "devices": [
            {**asdict(info), "attributes": dict(info.attributes)} for info in build_registry(fleet).values()
        ],
        "epochs": [],
    }
    for number in range(epochs):
        window = EpochWindow(number, GENESIS + number * EPOCH_SECONDS, GENESIS + (number + 1) * EPOCH_SECONDS)
        log = simulate_epoch(fleet, links, window, physics, params, rng, seed)
        doc["epochs"].append(
            {
                "window": [window.number, window.start, window.end],
                "reports": [{**asdict(r), "payload": dict(r.payload)} for r in log.reports],
                "entropies": log.entropies,
            }
        )
    path.write_text(json.dumps(doc))


def evaluate_in_subprocess(inputs: Path, src: Path, extra_env: dict[str, str]) -> str:
    """Run the epochs in a fresh interpreter importing opendepin from `src`; returns its JSON output."""
    env = {**os.environ, "PYTHONPATH": str(src), **extra_env}
    result = subprocess.run(
        [sys.executable, "-c", EVALUATE_EPOCHS, str(inputs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def count_differences(a: str, b: str) -> dict[str, int]:
    """How many contributions, trust values and verdicts differ between two outputs (for the message)."""
    left, right = json.loads(a), json.loads(b)
    counts = {"contributions": 0, "trust": 0, "verdicts": 0}
    for x, y in zip(left, right, strict=True):
        counts["contributions"] += sum(
            p != q for p, q in zip(x["contributions"], y["contributions"], strict=False)
        )
        counts["contributions"] += abs(len(x["contributions"]) - len(y["contributions"]))
        tx, ty = x["reward_inputs"]["trust"], y["reward_inputs"]["trust"]
        counts["trust"] += sum(tx.get(k) != ty.get(k) for k in set(tx) | set(ty))
        counts["verdicts"] += sum(p != q for p, q in zip(x["verdicts"], y["verdicts"], strict=False))
    return counts


def test_money_is_identical_with_and_without_simd_kernels(tmp_path: Path) -> None:
    inputs = tmp_path / "epochs.json"
    write_epochs(inputs)
    native = evaluate_in_subprocess(inputs, SRC, {})
    generic = evaluate_in_subprocess(inputs, SRC, simd_disabled_env())
    epochs = json.loads(native)
    trust = [int(v) for e in epochs for v in e["reward_inputs"]["trust"].values()]
    assert any(0 < t < 1_000_000 for t in trust), "the detectors must fire partially in this epoch"
    assert any(t == 0 for t in trust)
    reasons = {v[1] for e in epochs for v in e["verdicts"]}
    assert {"witness.relayed", "witness.implausible_link"} & reasons
    assert sum(c[2] for e in epochs for c in e["contributions"]) > 0
    assert native == generic, count_differences(native, generic)
