"""The BME model in radCAD and as a bare numpy loop (benchmarks/economics.py) gives our mean paths within
Monte Carlo error."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("radcad", reason="radCAD is the benchmark baseline: pip install -e '.[bench]'")

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "economics.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("economics_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_mean_paths_within_monte_carlo_error() -> None:
    bench = _load_benchmark()
    days, runs = 400, 60
    ours = bench.run_ours(runs, days, seed=11)
    _, theirs = bench.run_radcad(runs, days)
    bare = bench.run_bare(runs, days, seed=12)
    z = bench.compute_z_scores(ours, theirs, points=[49, 199, 399])
    assert z["minted"] == 0.0  # deterministic schedule: identical to float32 precision
    assert max(z.values()) < bench.Z_LIMIT, z
    z_bare = bench.compute_z_scores(ours, bare, points=[49, 199, 399])
    assert z_bare["minted"] == 0.0
    assert max(z_bare.values()) < bench.Z_LIMIT, z_bare
