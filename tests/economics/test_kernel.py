"""The register kernel (`run_block_full`, what `simulate` runs) walks the same paths as the array kernel
(`run_block`, the phases the custom-policy path runs), to the bit, with every feature of the model on."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.economics.model import simulate
from opendepin.economics.scenarios import load_scenario
from opendepin.economics.spec import AllocationSpec, FilecoinSchedule, FraudSpec, ScenarioSpec, StakingSpec
from tests.economics.test_verdicts import market


def _everything() -> ScenarioSpec:
    """The growth scenario plus staking, a vesting allocation, fraud leakage and the Filecoin schedule."""
    spec = load_scenario("growth")
    rewards = spec.rewards.model_copy(
        update={
            "categories": {"coverage": 7_000, "stakers": 1_000, "operations": 2_000},
            "device_categories": ["coverage"],
        }
    )
    sectors = [spec.sectors[0].model_copy(update={"fraud": FraudSpec(leakage=0.1, source="test")})]
    sectors += spec.sectors[1:]
    devices = [d.model_copy(update={"raw_power_eib": 1e-3}) for d in spec.devices]
    return spec.model_copy(
        update={
            "days": 500,
            "rewards": rewards,
            "sectors": sectors,
            "devices": devices,
            "emission": FilecoinSchedule(),
            "staking": StakingSpec(category="stakers", initial_staked=1_000_000),
            "allocations": [AllocationSpec(name="team", tokens=10_000_000, cliff_days=100, vesting_days=200)],
        }
    )


@pytest.mark.parametrize("name", ["growth", "everything", "market"])
def test_the_register_kernel_walks_the_same_paths_as_the_array_kernel(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opendepin.economics import kernel

    if name == "growth":
        spec = load_scenario("growth").model_copy(update={"days": 500})
    elif name == "everything":
        spec = _everything()
    else:
        spec = market().model_copy(update={"days": 500})
    fast = simulate((spec,), 6, seed=11, record_every=7)
    monkeypatch.setattr(kernel, "run_block_full", kernel.run_block)
    reference = simulate((spec,), 6, seed=11, record_every=7)
    np.testing.assert_array_equal(fast.records, reference.records)
    assert float(np.std(fast.channel("price")[-1])) > 0  # random paths, not a constant
    if name == "everything":
        assert fast.channel("staked").max() > 0 and fast.channel("minted").min() >= 0


def test_the_register_kernel_records_channels_in_any_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requested channels of every kind (device rows, a sector's demand, day values), mixed."""
    from opendepin.economics import kernel

    spec = load_scenario("growth").model_copy(update={"days": 200})
    channels = ("joins[hotspot]", "supply", "demand_usd[iot]", "devices[small-cell]", "burned")
    fast = simulate((spec,), 4, seed=5, record_every=3, channels=channels)
    monkeypatch.setattr(kernel, "run_block_full", kernel.run_block)
    reference = simulate((spec,), 4, seed=5, record_every=3, channels=channels)
    np.testing.assert_array_equal(fast.records, reference.records)
    assert set(fast.layout.recorded) == set(channels)
    assert fast.channel("joins[hotspot]").max() > 0 and fast.channel("burned").max() > 0


def test_the_local_state_draws_are_the_array_state_draws_to_the_bit() -> None:
    """`_next_uniform`, `_next_normal` and `_next_poisson` (the stream in two local words and the spare normal
    in a local, as `run_block_full` holds them) draw what `uniform`, `normal` and `poisson` draw from the
    arrays, in any interleaving, Poisson means from 0 to 40 (inversion, its unrolled part, PTRS)."""
    from opendepin.economics import kernel

    means = np.concatenate([[0.0, 1e-300, 1e-9], np.linspace(0.01, 40.0, 400), [9.999, 10.0, 1e6]])
    seeds = np.arange(1, 5, dtype=np.uint64)
    rng = kernel.seed_streams(seeds)
    x = np.zeros((16, seeds.size))
    counts = []
    for j in range(seeds.size):
        s0, s1, spare, has_spare = rng[0, j], rng[1, j], 0.0, False
        for step, mean in enumerate(np.tile(means, 3)):
            expected = kernel.poisson(rng, x, j, mean)
            count, s0, s1 = kernel._next_poisson(s0, s1, mean)
            s0, s1 = np.uint64(s0), np.uint64(s1)  # a Python int back in would be typed int64
            assert count == expected
            counts.append(count)
            if step % 3 == 0:
                draw, s0, s1, spare, has_spare = kernel._next_normal(s0, s1, spare, has_spare)
                s0, s1 = np.uint64(s0), np.uint64(s1)
                assert draw == kernel.normal(rng, x, j)
            if step % 5 == 0:
                u, s0, s1 = kernel._next_uniform(s0, s1)
                s0, s1 = np.uint64(s0), np.uint64(s1)
                assert u == kernel.uniform(rng, j)
            assert (s0, s1, has_spare) == (rng[0, j], rng[1, j], x[15, j] > 0.0)
            assert not has_spare or spare == x[14, j]
    assert max(counts) > 30 and sum(c > 9 for c in counts) > 500 and counts.count(0.0) > 10
