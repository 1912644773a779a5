"""`depin simulate storage`: scenarios through the network's own epoch, scored against the ground truth."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from opendepin.sectors.storage.sim.cli import build_app
from opendepin.sectors.storage.sim.runner import run_scenario
from opendepin.sectors.storage.sim.scenarios import SCENARIOS


def test_the_deleter_is_caught_and_honest_providers_are_not() -> None:
    result = run_scenario("deleter-20", 40, 1, seed=3, adversary_share=0.2)
    row = result.by_behaviour["deleter-20"]
    assert row["devices"] == 8 and row["flagged"] == 8
    assert result.by_behaviour["honest"]["flagged"] == 0 and result.honest_disqualified == 0
    assert row["pay_vs_honest"] < 0.2 and result.scores.recall == 1.0
    assert result.invalid.get("storage.missing", 0) >= 8


def test_the_command_prints_the_scores_as_json() -> None:
    assert {"honest", "deleter-1", "outsourcer", "sybil", "staller", "flaky", "mixed"} <= set(SCENARIOS)
    out = CliRunner().invoke(
        build_app(), ["--scenario", "sybil", "--devices", "40", "--epochs", "1", "--seed", "5", "--json"]
    )
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)
    for key in ("leakage", "precision", "recall", "false_positive_rate", "by_behaviour"):
        assert key in scores
    assert scores["by_behaviour"]["sybil"]["flagged"] > 0
    assert scores["invalid_by_reason"]["storage.prefix_duplicate"] > 0
