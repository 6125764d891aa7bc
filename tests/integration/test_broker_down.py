"""With the broker down, submissions are still accepted and nothing is lost: the outbox
keeps them and the sweeper enqueues them once a broker answers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hub.context import HubContext
from hub.store.models import Outbox
from tests.support import (
    DEPARTMENT,
    KEYS,
    Receiver,
    body,
    document,
    free_port,
    hue_directory,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_accepted_while_redis_is_down_then_delivered(make_settings, pg_url: str,
                                                     redis_url: str,
                                                     receiver: Receiver) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    down = make_settings(database_url=pg_url, redis_url=dead_redis, embedded_worker=False)
    directory = hue_directory(receiver.url)
    with run_hub(down, directory) as hub:
        assert httpx.get(f"{hub.url}/readyz").status_code == 503
        r = httpx.post(f"{hub.url}/api/v1/documents",
                       content=body(document(301, to=(DEPARTMENT,))), timeout=30,
                       headers={"Authorization": f"Bearer {KEYS['province']}",
                                "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        message_id = r.json()["id"]
        with hub.ctx.db.reading() as session:
            rows = session.execute(select(Outbox)).scalars().all()
        assert len(rows) == 1 and rows[0].dispatched_at is None  # left for the sweeper

    # the broker is back (a worker process on the real Redis): the sweeper finds the row
    up = make_settings(database_url=pg_url, redis_url=redis_url,
                       broker_namespace=down.broker_namespace)
    worker = HubContext.build(up, directory=directory)
    try:
        worker.start_worker()
        wait_until(lambda: receiver.at("/department"), timeout=30, what="swept delivery")
        assert receiver.at("/department")[0].headers["X-Lienthong-Message-Id"] == message_id
        wait_until(lambda: not _outbox(worker), timeout=10, what="outbox emptied")
    finally:
        worker.close()


def _outbox(ctx: HubContext) -> list[Outbox]:
    with ctx.db.reading() as session:
        return list(session.execute(select(Outbox)).scalars().all())
