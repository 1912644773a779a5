"""The aggregates the explorer reads from the store, each one query on the SQL stores.

Closed epochs never change, so what is read here about them is cached by the caller (`Explorer`). On the
SQL stores (SQLite, PostgreSQL) each read is one grouped query, or for verdicts the epoch's verdict blocks
grouped in polars; any other `Store` gets the same answers from the public interface (slower: it loads
every row of the epoch).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import polars as pl

from opendepin.store.base import Store
from opendepin.store.sql import SQLStore

Counts = dict[str, dict[str, dict[str, int]]]
"""device → report kind → verdict reason → count"""
ANY_KIND = "*"
"""The kind under which verdicts are counted when their kinds are not told apart."""


class StoreReads:
    """Grouped reads over one store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._db: SQLStore | None = store if isinstance(store, SQLStore) else None

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        assert self._db is not None
        return self._db._query(self._db._sql(sql), params)  # the explorer's read-only aggregates

    def verdict_counts(self, number: int, by_kind: bool = True) -> Counts:
        """Verdicts of closed epoch `number` counted per device, report kind and reason; with `by_kind`
        False every kind is counted under ANY_KIND (no join with the reports: 20x faster on SQLite when
        the reports are many, for a network whose report kinds all belong to one sector)."""
        out: Counts = defaultdict(lambda: defaultdict(dict))
        if self._db is not None:
            verdicts = self._db.epoch_verdicts(number).select("report_id", "device_id", "reason")
            if by_kind:
                verdicts = verdicts.join(self._report_kinds(number), on="report_id", how="inner")
            else:
                verdicts = verdicts.with_columns(pl.lit(ANY_KIND).alias("kind"))
            counts = verdicts.group_by("device_id", "kind", "reason").len()
            for device, kind, reason, count in counts.iter_rows():
                out[str(device)][str(kind)][str(reason)] = int(count)
            return out
        record = self.store.get_epoch_detail(number)
        for report_id, device, reason, _evidence in record.verdicts if record else ():
            kind = ANY_KIND
            if by_kind:
                stored = self.store.stored_report(report_id)
                kind = stored.record.kind if stored is not None else "?"
            by_reason = out[device][kind]
            by_reason[reason] = by_reason.get(reason, 0) + 1
        return out

    def _report_kinds(self, number: int) -> pl.DataFrame:
        """(report id, kind) of the reports closed epoch `number` may hold (timed or received in it)."""
        epoch = self.store.get_epoch(number)
        if epoch is None:
            return pl.DataFrame(schema={"report_id": pl.String, "kind": pl.String})
        rows = self._query(
            "SELECT report_id, kind FROM reports "
            "WHERE (ts >= ? AND ts < ?) OR (received_at >= ? AND received_at < ?)",
            (epoch.start, epoch.end, epoch.start, epoch.end),
        )
        return pl.DataFrame(rows, schema={"report_id": pl.String, "kind": pl.String}, orient="row")

    def rewards(self, number: int) -> list[tuple[str, str, int, int]]:
        """(device, category, units, amount) of every device reward row of closed epoch `number`."""
        if self._db is not None:
            rows = self._query(
                "SELECT device_id, category, units, amount FROM device_rewards WHERE epoch = ?", (number,)
            )
            return [(str(d), str(c), int(u), int(a)) for d, c, u, a in rows]
        record = self.store.get_epoch_detail(number)
        return [(d, c, u, a) for d, c, u, a, _ in record.device_rewards] if record else []

    def notes(self, number: int) -> list[tuple[str, str]]:
        """(device, reason) of every device note (a penalty with its evidence) of closed epoch `number`."""
        if self._db is not None:
            rows = self._query("SELECT device_id, reason FROM device_notes WHERE epoch = ?", (number,))
            return [(str(d), str(r)) for d, r in rows]
        record = self.store.get_epoch_detail(number)
        return [(d, r) for d, r, _ in record.notes] if record else []

    def active_devices(self, number: int) -> set[str]:
        """Devices with at least one valid report in closed epoch `number`."""
        if self._db is not None:
            verdicts = self._db.epoch_verdicts(number)
            return set(verdicts.filter(pl.col("reason") == "ok")["device_id"].to_list())
        record = self.store.get_epoch_detail(number)
        return {d for _, d, reason, _ in record.verdicts if reason == "ok"} if record else set()

    def report_lags(self, start: int, end: int) -> list[int]:
        """Seconds from device time to receipt of every accepted report received in [start, end)."""
        if self._db is not None:
            rows = self._query(
                "SELECT received_at - ts FROM reports WHERE received_at >= ? AND received_at < ?",
                (start, end),
            )
            return [int(row[0]) for row in rows]
        return [
            s.record.received_at - s.record.ts for s in self.store.stored_reports_received_between(start, end)
        ]

    def last_received(self) -> int | None:
        """When the node last accepted a report (None before the first)."""
        if self._db is not None:
            rows = self._query("SELECT MAX(received_at) FROM reports", ())
            return None if not rows or rows[0][0] is None else int(rows[0][0])
        return None

    def onboarded_times(self) -> list[int]:
        """When each registered device was onboarded, ascending."""
        if self._db is not None:
            rows = self._query("SELECT onboarded_at FROM devices ORDER BY onboarded_at", ())
            return [int(row[0]) for row in rows]
        return sorted(d.onboarded_at for d in self.store.devices().values())

    def onboarding_record(self, device_id: str) -> dict[str, Any]:
        """The signed onboarding record kept for a device (maker and owner signatures, attributes)."""
        if self._db is not None:
            rows = self._query("SELECT attestation FROM devices WHERE device_id = ?", (device_id,))
            return dict(json.loads(rows[0][0])) if rows else {}
        return dict(self.store.onboarding_records().get(device_id, {}))
