"""GET /metrics: the node in Prometheus text format (ingest rate, refusals by reason, lag, epochs).

Families (all prefixed `depin_`):
- `reports_accepted_total{source}` and `ingest_rate_per_second`: counted by this process's ingest;
- `reports_rejected_total{reason}`: from the store's counters, so refusals of every ingest process count;
- `epoch_last_closed`, `epoch_last_settled` (-1 before the first), `settlement_lag_epochs` (closed but not
  yet settled), `epoch_close_lag_seconds` (how long past its lateness cutoff the next epoch to close is;
  0 while none is due), `bus_pending_messages` when ingest runs through a bus, with
  `bus_oldest_pending_seconds` (age of the oldest report waiting on the stream) and `bus_outage_alert` (1
  while that age exceeds the bus's duplicate window: `ingest.bus.OutageWatch`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from opendepin.api.deps import get_node
from opendepin.ingest.metrics import Exposition, metrics_of
from opendepin.node import Node
from opendepin.rewards.epoch import window_for

router = APIRouter(tags=["health"])

SETTLED_KEY = "chain_settled_until"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render_metrics(
    node: Node,
    bus_pending: int | None = None,
    bus_oldest_age: float | None = None,
    bus_outage_alert: bool | None = None,
) -> str:
    """The node's metrics as Prometheus text."""
    counters = metrics_of(node)
    now = node.clock.now()
    config = node.config
    out = Exposition()
    out.family(
        "depin_reports_accepted_total",
        "counter",
        "Reports accepted and stored by this process, by transport.",
        [({"source": source}, count) for source, count in sorted(counters.accepted.items())],
    )
    out.family(
        "depin_ingest_rate_per_second",
        "gauge",
        "Reports accepted per second over the last minute (this process).",
        counters.rate(),
    )
    refused = node.store.rejection_counts(config.epochs.genesis_ts, now + 1)
    out.family(
        "depin_reports_rejected_total",
        "counter",
        "Reports refused at ingest since genesis, by reason code (every ingest process).",
        [({"reason": reason}, count) for reason, count in sorted(refused.items())],
    )
    last_closed = node.next_epoch - 1
    settled_meta = node.store.get_meta(SETTLED_KEY)
    last_settled = int(settled_meta) - 1 if settled_meta else -1
    out.family("depin_epoch_last_closed", "gauge", "The latest closed epoch (-1: none).", last_closed)
    out.family(
        "depin_epoch_last_settled", "gauge", "The latest epoch posted on chain (-1: none).", last_settled
    )
    out.family(
        "depin_settlement_lag_epochs",
        "gauge",
        "Epochs closed but not yet settled on chain.",
        max(0, last_closed - last_settled) if settled_meta is not None else 0,
    )
    cutoff = window_for(config, node.next_epoch).end + config.epochs.lateness_seconds
    out.family(
        "depin_epoch_close_lag_seconds",
        "gauge",
        "Seconds the next epoch to close is past its lateness cutoff (0: none due).",
        max(0, now - cutoff),
    )
    if bus_pending is not None:
        out.family(
            "depin_bus_pending_messages",
            "gauge",
            "Reports on the bus not yet stored and acknowledged by a worker.",
            bus_pending,
        )
    if bus_outage_alert is not None:
        out.family(
            "depin_bus_oldest_pending_seconds",
            "gauge",
            "Seconds since the oldest report waiting on the bus was stored there (0: none waits).",
            round(bus_oldest_age or 0.0, 1),
        )
        out.family(
            "depin_bus_outage_alert",
            "gauge",
            "1 while the oldest waiting report is older than the bus's duplicate window (workers down).",
            int(bus_outage_alert),
        )
    return out.text()


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(request: Request, node: Annotated[Node, Depends(get_node)]) -> PlainTextResponse:
    probe = getattr(request.app.state, "bus_pending", None)
    pending = probe() if callable(probe) else None
    watch = getattr(request.app.state, "bus_outage", None)  # an ingest.bus.OutageWatch
    age, alert = (watch.age, watch.alert) if watch is not None else (None, None)
    return PlainTextResponse(render_metrics(node, pending, age, alert), media_type=CONTENT_TYPE)
