"""`depin up --usage-growth`: users buy data sessions, growing past the emission's value; the manifests show
the usage weight rising as configured and coverage paid less; the credits are spent on chain."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import decode_bundle
from opendepin.template import render_template
from opendepin.up import UpOptions, run_network


def test_usage_growing_past_the_emission_moves_weight_from_coverage(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    network = tmp_path / "network.toml"  # every owner claims every epoch, so users can buy enough tokens
    network.write_text(render_template().replace("claim_share = 0.5", "claim_share = 1.0"))
    options = UpOptions(data_dir=data_dir, epochs=4, devices=30, usage_growth=0.5, network=network)
    result = run_network(options)
    epochs = result["epochs"]
    weights = [Fraction(e["usage_weight"]) for e in epochs]
    ratios = [Fraction(e["usage_ratio"]) for e in epochs]
    assert weights[0] == 0 and ratios[0] == 0  # no usage before anyone holds tokens
    assert weights == sorted(weights) and weights[-1] == Fraction(9, 10)  # the default policy's cap
    assert ratios[-1] > 1  # users paid more than the epoch's emission was worth
    for ratio, weight in zip(ratios[1:3], weights[1:3], strict=True):
        assert abs(weight - Fraction(9, 10) * ratio) < Fraction(1, 1_000)  # linear from (0, 0) to (1, 0.9)
    coverage = [int(e["totals"].get("coverage", 0)) for e in epochs]
    usage_paid = [int(e["totals"].get("data_transfer", 0)) for e in epochs]
    assert coverage == sorted(coverage, reverse=True) and coverage[-1] < coverage[0] / 5
    assert usage_paid[0] == 0 and all(paid > 0 for paid in usage_paid[1:])
    for epoch in epochs[1:]:
        assert epoch["users"]["receipts_accepted"] > 0 and epoch["users"]["receipts_rejected"] == 0
        assert epoch["credits_spent"] == epoch["usage_credits"] > 0  # what the epoch counted was burned
    assert result["gas"]["spend_credits"] > 0

    from opendepin.cli import _open_node

    node = _open_node(data_dir)
    try:
        assert verify_bundle(decode_bundle(node.export_epoch(3))).matches  # receipts and price included
    finally:
        node.store.close()
