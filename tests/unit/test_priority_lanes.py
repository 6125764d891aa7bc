"""Urgent stays urgent: a retried, swept or replayed urgent delivery keeps the urgent lane."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select, update

from adapters.memory import MemoryAdapter
from core.errors import DeliveryRejected
from hub.context import HubContext
from hub.deadletters import replay
from hub.delivery.dispatcher import QUEUE_NORMAL, QUEUE_URGENT
from hub.delivery.sweeper import sweep_once
from hub.store.models import Outbox
from tests.unit.memory_hub import URGENT, memory_hub, queued, submit

NORMAL_DQ, URGENT_DQ = f"{QUEUE_NORMAL}.DQ", f"{QUEUE_URGENT}.DQ"  # delayed messages


def outbox_priority(ctx: HubContext, delivery_id: str) -> int:
    with ctx.db.reading() as session:
        return int(session.execute(select(Outbox.priority)
                                   .where(Outbox.delivery_id == delivery_id)).scalar_one())


def test_a_failing_urgent_delivery_is_retried_in_the_urgent_lane(tmp_path: Path) -> None:
    # no worker: messages stay queued; a backoff long enough for the retry to be delayed
    ctx = memory_hub(tmp_path, MemoryAdapter(fail_first=1), min_backoff_ms=60_000,
                     max_backoff_ms=60_000)
    try:
        d = submit(ctx, priority=URGENT)
        assert queued(ctx, QUEUE_URGENT) == [d]
        assert ctx.deliverer.run(d).state == "retrying"
        assert queued(ctx, URGENT_DQ) == [d]
        assert queued(ctx, NORMAL_DQ) == [] and queued(ctx, QUEUE_NORMAL) == []
        assert outbox_priority(ctx, d) == int(URGENT)
    finally:
        ctx.close()


def test_the_sweeper_dispatches_urgent_rows_in_the_urgent_lane(tmp_path: Path) -> None:
    ctx = memory_hub(tmp_path, MemoryAdapter())
    try:
        urgent, normal = submit(ctx, 1, priority=URGENT), submit(ctx, 2)
        with ctx.db.transaction() as session:  # as if the broker had refused both
            session.execute(update(Outbox).values(dispatched_at=None))
        assert sweep_once(ctx.db, ctx.dispatcher.dispatch, ctx.settings.delivery) == 2
        assert queued(ctx, QUEUE_URGENT) == [urgent, urgent]  # the submission's, the sweeper's
        assert queued(ctx, QUEUE_NORMAL) == [normal, normal]
    finally:
        ctx.close()


def test_the_sweeper_keeps_a_retried_urgent_delivery_urgent(tmp_path: Path) -> None:
    ctx = memory_hub(tmp_path, MemoryAdapter(fail_first=1), min_backoff_ms=60_000,
                     max_backoff_ms=60_000)
    try:
        d = submit(ctx, priority=URGENT)
        assert ctx.deliverer.run(d).state == "retrying"
        assert queued(ctx, URGENT_DQ) == [d]
        with ctx.db.transaction() as session:  # the retry is due and Redis lost its message
            session.execute(update(Outbox).values(available_at=dt.datetime.now(dt.UTC),
                                                  dispatched_at=None))
        assert sweep_once(ctx.db, ctx.dispatcher.dispatch, ctx.settings.delivery) == 1
        assert queued(ctx, QUEUE_URGENT) == [d, d]
        assert queued(ctx, QUEUE_NORMAL) == []
    finally:
        ctx.close()


def test_replaying_an_urgent_dead_letter_uses_the_urgent_lane(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=1, error=lambda: DeliveryRejected("HTTP 400"))
    ctx = memory_hub(tmp_path, adapter)
    try:
        d = submit(ctx, priority=URGENT)
        assert ctx.deliverer.run(d).state == "dead"
        replay(ctx, d, actor="operator")
        assert queued(ctx, QUEUE_URGENT) == [d, d]  # the submission's, the replay's
        assert queued(ctx, QUEUE_NORMAL) == []
        assert outbox_priority(ctx, d) == int(URGENT)  # a later sweep keeps the lane too
        assert ctx.deliverer.run(d).state == "delivered"
    finally:
        ctx.close()
