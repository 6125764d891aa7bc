"""Prometheus metrics: counters of this process, and delivery gauges read from the database.

The gauges come from the shared database at scrape time, so any API process reports the
whole hub's backlog (workers in other processes included); counters are per process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from hub.overdue import late_now
from hub.store.db import Database
from hub.store.models import Delivery, Outbox
from routing.deadlines import KINDS

log = logging.getLogger(__name__)


class DatabaseGauges(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state = GaugeMetricFamily("lienthong_deliveries", "Deliveries by state",
                                     labels=["state"])
        outbox = GaugeMetricFamily("lienthong_outbox_rows",
                                   "Push deliveries still owed to the broker")
        try:
            with self.db.reading() as session:
                for state, count in session.execute(
                        select(Delivery.state, func.count()).group_by(Delivery.state)):
                    by_state.add_metric([state], count)
                outbox.add_metric([], session.scalar(select(func.count()).select_from(Outbox)) or 0)
        except Exception:  # a scrape must not fail because the database is down
            log.warning("metrics: database gauges unavailable", exc_info=True)
            return
        yield by_state
        yield outbox
        yield from self._breakers()

    def _breakers(self) -> Iterator[GaugeMetricFamily]:
        """Receiving systems whose circuit breaker is not closed (hub/delivery/breaker.py)."""
        from hub.store.models import DestinationHealth

        gauge = GaugeMetricFamily(
            "lienthong_destination_breaker",
            "Receiving systems whose circuit breaker is open or half open (1), by state",
            labels=["system", "state"])
        try:
            with self.db.reading() as session:
                for system_id, state in session.execute(
                        select(DestinationHealth.system_id, DestinationHealth.state)
                        .where(DestinationHealth.state != "closed")):
                    gauge.add_metric([system_id, state], 1)
        except Exception:  # a scrape must not fail because the database is down
            log.warning("metrics: breaker gauges unavailable", exc_info=True)
            return
        yield gauge


class OverdueGauges(Collector):
    """Recipients late now under NĐ 30/2020, by duty (hub/deadlines.py flags them)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        late = GaugeMetricFamily(
            "lienthong_overdue_deliveries",
            "Deliveries whose recipient is late now: receipt (not confirmed the same working "
            "day) or answer (not answered by the DueDate)", labels=["kind"])
        try:
            with self.db.reading() as session:
                for kind in KINDS:
                    late.add_metric([kind], session.scalar(
                        select(func.count()).select_from(Delivery)
                        .where(Delivery.deadlines_open.is_(True), late_now(kind))) or 0)
        except Exception:  # a scrape must not fail because the database is down
            log.warning("metrics: overdue gauges unavailable", exc_info=True)
            return
        yield late


class Metrics:
    """The hub's metrics, in a registry of its own (no process-global state)."""

    def __init__(self, db: Database | None = None) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("lienthong_messages_accepted_total", "Messages accepted",
                                ["kind", "channel", "form"], registry=self.registry)
        self.duplicates = Counter("lienthong_messages_duplicate_total",
                                  "Submissions answered as duplicates", ["kind"],
                                  registry=self.registry)
        self.rejected = Counter("lienthong_messages_rejected_total", "Submissions refused",
                                ["code", "channel"], registry=self.registry)
        self.ingest_seconds = Histogram(
            "lienthong_ingest_seconds", "Time from body read to commit", ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.deliveries = Counter("lienthong_delivery_attempts_total",
                                  "Delivery attempts by outcome", ["adapter", "outcome"],
                                  registry=self.registry)
        self.recovered = Counter(
            "lienthong_deliveries_recovered_total",
            "Deliveries the sweeper sent again, by why nobody else would have: undispatched "
            "(the broker was down), broker_lost (sent, never claimed), worker_died (claimed, "
            "lease expired)", ["reason"], registry=self.registry)
        self.egress_calls = Counter(
            "lienthong_egress_requests_total",
            "Outbound requests by destination origin and outcome (2xx..5xx, timeout, "
            "unreachable, too_large, or the refusal's code)", ["destination", "outcome"],
            registry=self.registry)
        self.egress_seconds = Histogram(
            "lienthong_egress_seconds", "Time of outbound requests that reached the network",
            ["destination"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry)
        self.overdue_flags = Counter(
            "lienthong_overdue_flags_total",
            "Recipients flagged late under NĐ 30/2020 by this process, by duty (receipt, "
            "answer); each flag once", ["kind"], registry=self.registry)
        self.polled = Counter(
            "lienthong_polled_items_total",
            "Items fetched from polled systems (hub/polling.py), by system and outcome: "
            "stored, duplicate, refused, or interrupted (a round ended by an outage)",
            ["system", "outcome"], registry=self.registry)
        if db is not None:
            self.registry.register(DatabaseGauges(db))
            self.registry.register(OverdueGauges(db))

    def egress_call(self, destination: str, outcome: str, seconds: float | None) -> None:
        """What the egress gateway reports of each call (security/egress.py: Observer)."""
        self.egress_calls.labels(destination, outcome).inc()
        if seconds is not None:
            self.egress_seconds.labels(destination).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
