"""Retries live in the hub's database alone: the broker never redelivers a failed message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

from adapters.memory import MemoryAdapter
from core.errors import HubError, ServiceUnavailable
from core.settings import Settings
from hub.delivery.dispatcher import QUEUE_NORMAL, QUEUE_URGENT, Dispatcher
from hub.store.db import Database
from tests.support import wait_until
from tests.unit.memory_hub import delivery_view, memory_hub, submit


def test_a_failing_receiver_gets_max_attempts_then_a_dead_letter(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=1_000)
    ctx = memory_hub(tmp_path, adapter, max_attempts=4, min_backoff_ms=20, max_backoff_ms=60)
    delays: list[int] = []
    schedule = ctx.deliverer.schedule

    def recording(ids: list[str], priority: int, delay_ms: int) -> None:
        delays.append(delay_ms)
        schedule(ids, priority, delay_ms)

    ctx.deliverer.schedule = recording
    broker = ctx.dispatcher.broker
    assert isinstance(broker, StubBroker)
    ctx.start_worker(sweeper=False)
    try:
        d = submit(ctx)
        wait_until(lambda: delivery_view(ctx, d)["state"] == "dead", what="the dead letter")
        # every message, the delayed ones included, has been processed: nothing is pending
        broker.join(QUEUE_NORMAL, timeout=10_000)
        assert adapter.calls == 4
        record = delivery_view(ctx, d)
        assert [(a["number"], a["outcome"]) for a in record["attempts"]] == [
            (1, "transient"), (2, "transient"), (3, "transient"), (4, "transient")]
        assert record["dead_letter"] and "simulated outage" in record["last_error"]
        # exponential backoff with jitter: each delay in the upper half of its ceiling
        ceilings = [20, 40, 60]
        assert len(delays) == len(ceilings)
        for delay, ceiling in zip(delays, ceilings, strict=True):
            assert ceiling / 2 <= delay <= ceiling
        assert broker.dead_letters == []
    finally:
        ctx.close()


def test_an_actor_that_raises_is_not_redelivered_by_the_broker(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        delivery={"worker_threads": 2})
    db = Database(settings.database_url)
    dispatcher = Dispatcher(settings, db)
    calls: list[str] = []

    def handler(delivery_id: str) -> Any:
        calls.append(delivery_id)
        raise ServiceUnavailable("the database is unavailable")

    dispatcher.bind(handler)
    worker = dispatcher.make_worker()
    worker.start()
    try:
        dispatcher.dispatch(["normal"])
        dispatcher.dispatch(["urgent"], priority=1)
        broker = dispatcher.broker
        assert isinstance(broker, StubBroker)
        # join waits for the delay queues too, where a broker-level retry would wait
        for queue in (QUEUE_NORMAL, QUEUE_URGENT):
            broker.join(queue, timeout=10_000)
        assert sorted(calls) == ["normal", "urgent"]
        assert broker.dead_letters == []  # acknowledged, not parked in the broker
        assert not any(isinstance(m, Retries) for m in broker.middleware)
    finally:
        worker.stop()
        dispatcher.close()
        db.dispose()


def test_a_broker_that_retries_by_itself_is_refused(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    db = Database(settings.database_url)
    try:
        with pytest.raises(HubError) as info:
            Dispatcher(settings, db, broker=StubBroker())
        assert info.value.code == "broker_retries"
    finally:
        db.dispose()


def test_a_claim_that_fails_is_recovered_by_the_sweeper(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = MemoryAdapter()
    ctx = memory_hub(tmp_path, adapter, dispatch_lease_s=0.5, sweep_interval_s=0.1)
    claims: list[str] = []
    claim = ctx.deliverer.claim

    def failing_once(delivery_id: str, now: Any) -> bool:
        claims.append(delivery_id)
        if len(claims) == 1:
            raise ServiceUnavailable("the database is unavailable")
        return claim(delivery_id, now)

    monkeypatch.setattr(ctx.deliverer, "claim", failing_once)
    dispatched: list[tuple[list[str], int]] = []
    send = ctx.dispatcher.send

    def recording(ids: list[str], priority: int = 0, delay_ms: int = 0) -> bool:
        dispatched.append((list(ids), priority))
        return send(ids, priority, delay_ms)

    monkeypatch.setattr(ctx.dispatcher, "send", recording)
    ctx.start_worker()  # with the sweeper
    try:
        d = submit(ctx)
        wait_until(lambda: delivery_view(ctx, d)["state"] == "delivered",
                   what="the delivery after the failed claim")
        assert adapter.calls == 1
        assert [a["number"] for a in delivery_view(ctx, d)["attempts"]] == [1]
        # the first enqueue came from the submission, the second from the sweeper
        assert dispatched[:2] == [([d], 0), ([d], 0)]
        assert claims[:2] == [d, d]
    finally:
        ctx.close()
