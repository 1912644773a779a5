"""Reputation transitions through the node: `depin up` on examples/storage.toml with thresholds that a
one-day run reaches (vetted after one audit; α₀ = 1, so the first proven failure warns and disqualifies);
`depin explain`'s data shows each transition as a note with its reason, the scores and the thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opendepin.explain import explain_device
from opendepin.store.sqlite import SQLiteStore
from opendepin.up import UpOptions, run_network

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "storage.toml"
FAST = {"audit_alpha0": "1.0", "vetting_audits": "1", "vetting_age_s": "0"}


def network(tmp_path: Path) -> Path:
    lines = []
    section = ""
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith("["):
            section = line.split("#")[0].strip()
        key = line.split("=")[0].strip()
        if section == "[sectors.storage.reputation]" and key in FAST:
            line = f"{key} = {FAST[key]}"
        lines.append(line)
    path = tmp_path / "network.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def notes(explained: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    return [dict(n["evidence"]) for n in explained["notes"] if n["reason"] == reason]


def test_explain_shows_every_state_transition_with_its_numbers(tmp_path: Path) -> None:
    data = tmp_path / "net"
    run_network(
        UpOptions(
            data_dir=data,
            epochs=1,
            devices=30,
            misbehaving_share=0.4,
            network=network(tmp_path),
            chain="embedded",  # the fleet's client pays its pieces in credits bought on chain
        )
    )
    store = SQLiteStore(data / "depin.sqlite")
    try:
        explained = {d: explain_device(store, d, 0) for d in sorted(store.devices())}
        vetted_all = [notes(e, "storage.vetted") for e in explained.values()]
        assert sum(1 for v in vetted_all if v) >= 15  # the honest ones, at least
        for (vetted,) in (v for v in vetted_all if v):
            assert vetted["from"] == "new" and vetted["to"] == "vetted" and vetted["vetting_audits"] == 1
            assert vetted["audits"] >= 1 and "audit_score" in vetted and "period" in vetted
        # examples/storage.toml holds Storj's 75 % in the first 90 epochs: explain's breakdown shows it
        helds = [
            r["breakdown"]["held"]
            for e in explained.values()
            for r in e["rewards"]
            if r["category"] == "storage" and "held" in r.get("breakdown", {})
        ]
        assert len(helds) >= 15 and all(h["held_percent"] == 75 for h in helds)
        assert all(h["byte_hours_held"] == h["byte_hours_earned"] * 3 // 4 for h in helds)
        named = [e for e in explained.values() if notes(e, "storage.disqualified")]
        assert len(named) >= 2  # the fleet's deleters and rotters fail their first audits
        for e in named:
            (dq,) = notes(e, "storage.disqualified")
            (warning,) = notes(e, "storage.warning")
            assert warning["warning_at"] == "0.98" and float(warning["audit_score"]) <= 0.98
            assert dq["cause"] == "audit_failure" and dq["to"] == "disqualified" and dq["dq_at"] == "0.96"
            assert float(dq["audit_score"]) <= 0.96 and "period" in dq
            reasons = [n["reason"] for n in e["notes"]]
            assert reasons.index("storage.warning") <= reasons.index("storage.disqualified")
            assert notes(e, "storage.pieces_dropped")[0]["cause"] == "disqualified"
            failures = e["reports_by_reason"].get("storage.missing", 0) + e["reports_by_reason"].get(
                "storage.corrupt", 0
            )
            assert failures >= 1  # the audit answer that failed, with its evidence, is beside the notes
    finally:
        store.close()
