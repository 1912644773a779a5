"""Jobs, the result tree and bisection, orders, the capacity challenge, reputation, market rules."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.compute import market
from opendepin.sectors.compute.attributes import Hardware
from opendepin.sectors.compute.challenges import (
    capacity_hash,
    capacity_target,
    check_capacity,
    shown_speed,
    solve_capacity,
    spot_units,
)
from opendepin.sectors.compute.jobs import JobError, JobSpec, known_unit, run_job, run_unit
from opendepin.sectors.compute.merkle import bisect, merkle_root, outputs_root, unit_hash
from opendepin.sectors.compute.orders import OrderError, Requirements, decode_order
from opendepin.sectors.compute.reputation import Reputation
from tests.sectors.compute.helpers import SEED, TENANT, make_order


@pytest.mark.parametrize(
    ("kind", "size", "length"), [("hashchain", 100, 32), ("matmul", 8, 32), ("mlp", 16, 16)]
)
def test_jobs_are_deterministic_and_units_independent(kind: str, size: int, length: int) -> None:
    job = JobSpec(kind, SEED, 3, size)
    outputs = run_job(job)
    assert outputs == run_job(job) and len({*outputs}) == 3 and all(len(o) == length for o in outputs)
    assert run_unit(job, 2) == outputs[2]
    assert run_job(job.for_run(1)) != outputs


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(["hashchain", "matmul", "mlp"]),
    seed=st.binary(min_size=32, max_size=32),
    units=st.integers(1, 4),
)
def test_remembered_units_are_the_units(kind: str, seed: bytes, units: int) -> None:
    """The engine's memo of unit outputs answers what running the unit answers, asked twice or once."""
    job = JobSpec(kind, seed.hex(), units, {"hashchain": 50, "matmul": 4, "mlp": 8}[kind])
    assert [known_unit(job, u) for u in range(units)] == run_job(job)
    assert [known_unit(job, u) for u in reversed(range(units))] == run_job(job)[::-1]


def test_a_remembered_capacity_count_is_the_count() -> None:
    """Judging the same answer twice (the book is evaluated many times) gives the same verdict and
    evidence, and a changed answer is judged afresh."""
    target = capacity_target(2_000, 1, 8)
    nonces = solve_capacity("d" * 64, "dev0", target, 4_000)
    first = check_capacity("d" * 64, "dev0", nonces, target, 8)
    assert check_capacity("d" * 64, "dev0", list(nonces), target, 8) == first and first[0]
    assert not check_capacity("d" * 64, "dev0", [*nonces[:-1], nonces[-1] + 1], target, 8)[0] or (
        capacity_hash("d" * 64, "dev0", nonces[-1] + 1) < target
    )
    assert check_capacity("d" * 64, "dev1", nonces, target, 8) != first


def test_hashchain_is_the_documented_iteration() -> None:
    digest = hashlib.sha256(b"hashchain" + bytes.fromhex(SEED) + (1).to_bytes(4, "big")).digest()
    for _ in range(5):
        digest = hashlib.sha256(digest).digest()
    assert run_unit(JobSpec("hashchain", SEED, 2, 5), 1) == digest


def test_mlp_classifies_into_ten_classes() -> None:
    out = run_unit(JobSpec("mlp", SEED, 1, 64), 0)
    assert len(out) == 64 and max(out) < 10 and len(set(out)) > 1


def test_bad_jobs_are_refused() -> None:
    with pytest.raises(JobError, match="kind"):
        JobSpec.from_map({"kind": "bitcoin", "seed": SEED, "units": 1, "size": 1})
    with pytest.raises(JobError, match="size"):
        JobSpec.from_map({"kind": "matmul", "seed": SEED, "units": 1, "size": 1_000})
    with pytest.raises(JobError):
        run_unit(JobSpec("hashchain", SEED, 2, 5), 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_bisection_finds_the_first_differing_unit(n: int, data: st.DataObject) -> None:
    a = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
    changed = data.draw(st.sets(st.integers(0, n - 1), max_size=n))
    b = [unit_hash(x) if i in changed else x for i, x in enumerate(a)]
    found = bisect(a, b)
    if not changed:
        assert found is None and merkle_root(a) == merkle_root(b)
    else:
        assert found is not None and found.unit == min(changed)


def test_a_leaf_never_passes_for_a_node() -> None:
    assert outputs_root([b"a", b"b"]) != outputs_root([b"ab"])
    with pytest.raises(ValueError):
        bisect([b"x" * 32], [b"x" * 32, b"y" * 32])


def test_orders_are_signed_by_their_tenant() -> None:
    order, data, sig = make_order()
    assert decode_order(data, sig) == order
    with pytest.raises(OrderError) as refused:
        decode_order(data, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert refused.value.reason in ("compute.bad_order_signature", "compute.bad_order")
    with pytest.raises(OrderError, match="deterministic"):
        import cbor2

        decode_order(cbor2.dumps(order.to_map()), sig)  # key order not canonical
    with pytest.raises(OrderError, match="replicas"):
        decode_order(*make_order(replicas=5, tenant=TENANT)[1:], max_replicas=3)


def test_capacity_answers_are_bound_to_the_device_and_distinct() -> None:
    target = capacity_target(2_000, 1, 8)
    nonces = solve_capacity("c" * 64, "dev0", target, 4_000)
    assert 8 <= len(nonces) <= 40  # 16 expected from twice the claimed work
    assert check_capacity("c" * 64, "dev0", nonces, target, 8)[0]
    assert not check_capacity("c" * 64, "dev1", nonces, target, 8)[0]  # bound to the device
    assert not check_capacity("c" * 64, "dev0", [*nonces, nonces[0]], target, 8)[0]  # no repeats
    assert not check_capacity("c" * 64, "dev0", [*nonces, nonces[-1] + 1], target, 8)[0] or (
        capacity_hash("c" * 64, "dev0", nonces[-1] + 1) < target
    )


@settings(max_examples=20, deadline=None)
@given(st.integers(1_000, 4_000), st.sampled_from([1.0, 1.5, 3.0]))
def test_the_shown_speed_does_not_depend_on_the_claim(real: int, overclaim: float) -> None:
    claim = int(real * overclaim)
    target = capacity_target(claim, 1, 64)
    found = len(solve_capacity("d" * 64, "devX", target, real, limit=10_000))
    shown = shown_speed(found, claim, 64)
    assert abs(shown - real) < 6 * real / 8  # Poisson(64 / overclaim) counts, 6 sd at the worst


def test_spot_units_are_distinct_and_in_range() -> None:
    units = spot_units("a" * 64, "b" * 64, 10, 4)
    assert len(set(units)) == 4 and all(0 <= u < 10 for u in units)
    assert spot_units("a" * 64, "b" * 64, 3, 9) == [0, 1, 2]


def test_reputation_disqualifies_after_two_frauds_from_a_perfect_record() -> None:
    rep = Reputation.new(1_000)
    rep = rep.record(False, 25, 999_000)
    assert rep.score_ppm > 960_000
    assert rep.record(False, 25, 999_000).score_ppm <= 960_000


def test_market_rules() -> None:
    assert market.required_deposit(3, 7, 5_000, 0) == 11  # 10.5 rounded up
    assert market.required_deposit(3, 7, 5_000, 50) == 50
    assert market.split_take(999, 500) == (950, 49)
    hw = Hardware.of({"cpu_cores": 8, "memory_mb": 1024, "benchmark_hps": 5})
    assert market.unmet_requirements(hw, Requirements(8, 2048, "H100", 5)) == ["memory_mb", "gpu_model"]
    owners = ["o0", "o1", "o1", "o3"]
    bids = [market.Bid(f"d{i}", owners[i], p, 0, i, str(i)) for i, p in enumerate([5, 3, 3, 9])]
    assert [b.device for b in market.match(bids, 2)] == ["d1", "d0"]  # d2 shares d1's owner
    assert [b.device for b in market.match(bids, 2, frozenset({"d1"}))] == ["d2", "d0"]
