"""The compute simulation's providers: what each strategy returns for a job and a capacity challenge, and
the engine's rule for how many answers a provider's state keeps."""

from __future__ import annotations

import random

from opendepin.sectors.compute.challenges import capacity_target, check_capacity, solve_capacity
from opendepin.sectors.compute.evaluate import KEPT_CAPACITY_IDS, kept_answers
from opendepin.sectors.compute.jobs import JobSpec, run_job
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.sim.simulation import (
    LAZY,
    OVERCLAIM,
    PARTIAL,
    TRUE_HPS,
    answer_job,
    claimed_hps,
)

JOB = JobSpec("hashchain", "ab" * 32, 20, 50)


def test_honest_answers_the_job_partial_skips_one_unit_in_twenty_lazy_all() -> None:
    truth = run_job(JOB)
    assert answer_job(JOB, "honest", random.Random(1)) == truth
    partial = answer_job(JOB, PARTIAL, random.Random(1))
    assert sum(a != b for a, b in zip(partial, truth, strict=True)) == 1
    lazy = answer_job(JOB, LAZY, random.Random(1))
    assert all(a != b and len(a) == len(b) for a, b in zip(lazy, truth, strict=True))


def test_an_over_claimer_finds_about_half_the_solutions_its_claim_needs() -> None:
    c = ComputeParams().capacity
    results = {}
    for behaviour in ("honest", OVERCLAIM):
        target = capacity_target(claimed_hps(behaviour), c.work_s, c.expected_solutions)
        nonces = solve_capacity("ch" * 32, "ed25519:dev", target, TRUE_HPS * c.work_s)
        results[behaviour] = check_capacity("ch" * 32, "ed25519:dev", nonces, target, c.min_solutions)
    assert results["honest"][0] and not results[OVERCLAIM][0]
    assert results[OVERCLAIM][1]["valid"] < c.min_solutions


def test_a_day_long_epoch_of_hourly_challenges_keeps_every_answer_it_judges() -> None:
    assert kept_answers(86_400, 3_600, 3_600 + 60 + 3_600) == 28  # ⌈(86,400 + 7,260) / 3,600⌉ + 1
    assert kept_answers(3_600, 3_600, 3_670) == KEPT_CAPACITY_IDS
