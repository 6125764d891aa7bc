"""The circuit breaker per receiving system: after a run of transient failures the hub stops
calling a dead system (its deliveries wait without spending attempts), sends one probe after
the cool-down, and resumes everything once the probe gets through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from adapters.memory import MemoryAdapter
from core.errors import DeliveryRejected
from hub.context import HubContext
from hub.store.models import Delivery, DestinationHealth
from tests.unit.memory_hub import memory_hub, submit


class Hub:
    def __init__(self, tmp_path: Path, adapter: MemoryAdapter) -> None:
        self.adapter = adapter
        self.ctx: HubContext = memory_hub(tmp_path, adapter, breaker_failures=3,
                                          breaker_cooldown_s=60)
        self.scheduled: list[tuple[list[str], int]] = []
        self.ctx.deliverer.schedule = lambda ids, prio, delay: self.scheduled.append(
            (list(ids), delay))

    def due(self, *ids: str) -> None:
        """Make deliveries due now (as the broker would bring them back)."""
        with self.ctx.db.transaction() as session:
            session.execute(update(Delivery).where(Delivery.id.in_(ids))
                            .values(next_attempt_at=None))

    def cool_down_passes(self) -> None:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        with self.ctx.db.transaction() as session:
            session.execute(update(DestinationHealth).values(retry_at=past))

    def attempts(self, delivery_id: str) -> int:
        with self.ctx.db.reading() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            return row.attempts

    def state(self) -> str:
        health = self.ctx.deliverer.breaker.health()
        return health["so"].state if "so" in health else "closed"

    def run(self, delivery_id: str) -> str:
        self.due(delivery_id)
        return self.ctx.deliverer.run(delivery_id).state


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path, MemoryAdapter(fail_first=5))
    try:
        yield h
    finally:
        h.ctx.close()


def test_a_run_of_failures_opens_the_breaker_and_deliveries_wait_without_attempts(
        hub: Hub) -> None:
    d = submit(hub.ctx, 1)
    assert [hub.run(d) for _ in range(3)] == ["retrying"] * 3
    assert hub.state() == "open"
    other = submit(hub.ctx, 2)
    assert hub.run(other) == "deferred"
    assert hub.run(d) == "deferred"
    assert hub.adapter.calls == 3  # the dead system is not called again
    assert (hub.attempts(d), hub.attempts(other)) == (3, 0)  # no attempt spent waiting
    health = hub.ctx.deliverer.breaker.health()["so"]
    assert health.failures == 3 and health.last_error == "simulated outage"
    [(ids, delay)] = hub.scheduled[-1:]
    assert ids == [d] and 59_000 <= delay <= 60_000  # brought back at the cool-down's end


def test_after_the_cool_down_one_probe_goes_and_a_failure_reopens(hub: Hub) -> None:
    d, other = submit(hub.ctx, 1), submit(hub.ctx, 2)
    for _ in range(3):
        hub.run(d)
    hub.cool_down_passes()
    assert hub.run(d) == "retrying"  # the probe: called, failed
    assert hub.adapter.calls == 4
    assert hub.state() == "open"
    assert hub.run(other) == "deferred"  # a new cool-down
    assert hub.adapter.calls == 4


def test_only_one_probe_is_out_at_a_time(hub: Hub) -> None:
    d, other = submit(hub.ctx, 1), submit(hub.ctx, 2)
    for _ in range(3):
        hub.run(d)
    hub.cool_down_passes()
    now = dt.datetime.now(dt.UTC)
    assert hub.ctx.deliverer.breaker.admit("so", now) is None  # this caller probes
    assert hub.state() == "half_open"
    assert hub.run(other) == "deferred"  # the probe is still out


def test_a_successful_probe_closes_the_breaker_and_the_waiting_deliveries_resume(
        tmp_path: Path) -> None:
    hub = Hub(tmp_path, MemoryAdapter(fail_first=3))
    try:
        d, waiting = submit(hub.ctx, 1), submit(hub.ctx, 2)
        for _ in range(3):
            hub.run(d)
        assert hub.run(waiting) == "deferred"
        hub.cool_down_passes()
        hub.scheduled.clear()
        assert hub.run(d) == "delivered"
        assert hub.state() == "closed"
        assert ([waiting], 0) in hub.scheduled  # sent again at once, not after 60 s
        assert hub.ctx.deliverer.run(waiting).state == "delivered"
        assert hub.ctx.deliverer.breaker.health()["so"].failures == 0
    finally:
        hub.ctx.close()


def test_a_refusal_says_the_receiver_is_up_and_never_opens(tmp_path: Path) -> None:
    hub = Hub(tmp_path, MemoryAdapter(fail_first=10, error=lambda: DeliveryRejected("no")))
    try:
        results = [hub.run(submit(hub.ctx, n)) for n in range(1, 6)]
        assert results == ["dead"] * 5
        assert hub.state() == "closed"
    finally:
        hub.ctx.close()


def test_zero_failures_turns_the_breaker_off(tmp_path: Path) -> None:
    ctx = memory_hub(tmp_path, MemoryAdapter(fail_first=10), breaker_failures=0)
    try:
        ctx.deliverer.schedule = lambda ids, prio, delay: None
        d = submit(ctx, 1)
        for _ in range(6):
            with ctx.db.transaction() as session:
                session.execute(update(Delivery).values(next_attempt_at=None))
            assert ctx.deliverer.run(d).state == "retrying"
        assert ctx.deliverer.breaker.health() == {}
    finally:
        ctx.close()


def test_the_state_shows_in_the_directory_api_and_the_metrics(hub: Hub) -> None:
    from fastapi.testclient import TestClient

    from hub.app import create_app
    from tests.unit.memory_hub import RECIPIENT, SENDER

    d = submit(hub.ctx, 1)
    for _ in range(3):
        hub.run(d)
    with TestClient(create_app(context=hub.ctx)) as client:
        r = client.get("/api/v1/organizations", headers={"Authorization": "Bearer k"})
        assert r.status_code == 200, r.text
        items = {o["code"]: o for o in r.json()["items"]}
        health = items[RECIPIENT]["delivery_health"]
        assert (health["system"], health["state"], health["failures"]) == ("so", "open", 3)
        assert health["last_error"] == "simulated outage" and health["retry_at"]
        assert "delivery_health" not in items[SENDER]  # a pull system has no breaker
        metrics = client.get("/metrics").text
        assert 'lienthong_destination_breaker{state="open",system="so"} 1.0' in metrics
        deferred = 'lienthong_delivery_attempts_total{adapter="memory",outcome="deferred"}'
        assert deferred not in metrics
        hub.run(submit(hub.ctx, 2))
        assert f"{deferred} 1.0" in client.get("/metrics").text
