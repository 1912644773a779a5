"""Seeded full-model paths pinned to the bit: a speed-up of the compiled kernel (`kernel.run_block_full`) must
not change a single recorded value (the model's results for a given seed are part of its contract: reports
and tests quote them).

The digests are SHA-256 of the recorded float32 windows (`SimulationResult.records`), taken from the kernel
before the optimisations of issue 18's speed bar; they hold on x86-64 Linux with the pinned numpy/numba (a
different libm could move the last bit of exp/log and so every path after it)."""

from __future__ import annotations

import hashlib

import pytest

from opendepin.economics.model import simulate
from opendepin.economics.scenarios import load_scenario
from opendepin.economics.spec import ScenarioSpec
from tests.economics.test_kernel import _everything
from tests.economics.test_verdicts import market

SHARED_CHANNELS = ("supply", "burned", "minted", "demand_usd")

PINNED = {
    # name: (runs, seed, record_every, channels, digest, supply at the end of run 0, burned at the end of
    # the last run)
    "growth": (
        8,
        3,
        None,
        None,
        "9db69ed731258da0b7586af6fdefd6616d70fd3cdae0df49189c8b267288e976",
        194451616.0,
        10888.2509765625,
    ),
    "growth-4": (
        8,
        3,
        1,
        SHARED_CHANNELS,
        "b9186032b5416e11dc56168d96115702ca134b44c891fef157edcce67a4c96c4",
        194451616.0,
        10888.2509765625,
    ),
    "everything": (
        6,
        11,
        7,
        None,
        "746763f3fe50f61e95959bff224b35a567b4de35f21e98d5c2dfd130675c52dd",
        287344704.0,
        497944.59375,
    ),
    "market": (
        6,
        11,
        None,
        None,
        "2dc5c59b5dd0101fec2b23cf87e6b47239fc86fd49e1116fb12f7060199b68cc",
        60160824.0,
        143012.265625,
    ),
}


def _spec(name: str) -> ScenarioSpec:
    if name in ("growth", "growth-4"):
        return load_scenario("growth")
    if name == "everything":
        return _everything()  # staking, vesting, fraud leakage, the Filecoin schedule
    return market()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_seeded_full_model_paths_are_pinned_to_the_bit(name: str) -> None:
    runs, seed, every, channels, digest, supply_end, burned_end = PINNED[name]
    result = simulate((_spec(name),), runs, seed=seed, record_every=every, channels=channels)
    assert float(result.channel("supply")[-1, 0]) == supply_end
    assert float(result.channel("burned")[-1, -1]) == burned_end
    assert hashlib.sha256(result.records.tobytes()).hexdigest() == digest
