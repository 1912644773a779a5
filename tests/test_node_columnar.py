"""A node closes epochs from columns (bulk gather, the wireless judge over columns) and publishes exactly
what the per-report rules give: `depin epoch verify` (the audit, which recomputes the exported bundle
report by report) matches, and the stored rows equal a reference recomputation, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import h3
import pytest

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.geo import offset_point
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.columns import ReportColumns
from opendepin.reports.envelope import sign_report
from opendepin.rewards.digest import canonical_json
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST
from opendepin.store.base import Store
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

CELLS = ("8c1f1d48945d9ff", "8c1f1d48945dbff", None)


@contextmanager
def _store(kind: str, tmp_path: Path) -> Iterator[Store]:
    if kind == "sqlite":
        store = SQLiteStore(tmp_path / "depin.sqlite3")
        yield store
        store.close()
    else:
        from tests.store.pg import postgres_store

        with postgres_store() as pg:
            yield pg


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_columnar_close_is_verified_by_the_per_report_rules(kind: str, tmp_path: Path) -> None:
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    clock = SimulatedClock(config.epochs.genesis_ts)
    with _store(kind, tmp_path) as store:
        node = Node(config, store, clock)
        keys = [DeviceKey("ed25519", bytes([40 + i]) * 32) for i in range(6)]
        for i, key in enumerate(keys):
            node.onboard(onboard_request(config.name, key, cell=CELLS[i % 3]))
        for hour in range(24):
            ts = config.epochs.genesis_ts + hour * 3600 + 30
            clock.set(ts + 1_000)
            wires = []
            for i, key in enumerate(keys):
                lat, lon = offset_point(
                    *h3.cell_to_latlng(CELLS[i % 2]), (5, 320, 450)[(i + hour) % 3], hour * 15
                )
                seq = hour * 10
                wires.append(sign_report(key, HEARTBEAT, ts, seq, {"lat": lat, "lon": lon}).to_wire())
                if i % 2 == 0:  # a second heartbeat in the same hour
                    wires.append(
                        sign_report(key, HEARTBEAT, ts + 600, seq + 1, {"lat": lat, "lon": lon}).to_wire()
                    )
                if hour % 3 == i % 3:
                    test = {"download_mbps": 150.0, "upload_mbps": 15.0, "latency_ms": 20.0 + i}
                    wires.append(sign_report(key, SPEEDTEST, ts + 900, seq + 2, test).to_wire())
            assert [r.reason for r in node.ingest(wires) if not r.accepted] == []
        clock.set(config.epochs.genesis_ts + 86_400 + config.epochs.lateness_seconds)
        inputs = node.gather_inputs(0)
        assert isinstance(inputs.reports, ReportColumns)
        record = node.close_epoch(0)
        reference = node.compute_epoch(replace(inputs, reports=list(inputs.reports)))
        assert canonical_json(record.manifest) == canonical_json(reference.manifest)
        assert record.manifest["rewarded_devices"] > 0
        assert set(record.manifest["invalid_by_reason"]) == {
            "heartbeat.duplicate_hour",
            "heartbeat.location_not_asserted",
            "heartbeat.location_too_far",
        }
        detail = store.get_epoch_detail(0)
        assert detail is not None
        assert detail.verdicts == sorted(tuple(v) for v in reference.verdicts)
        assert detail.device_rewards == sorted(reference.device_rewards, key=lambda r: (r[1], r[0]))
        assert node.audit_epoch(0).matches
