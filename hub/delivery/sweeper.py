"""The sweeper: re-enqueues outbox rows the broker lost (down, flushed, or a dead worker)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import or_, select, update

from hub.store.db import Database
from hub.store.models import Outbox

log = logging.getLogger(__name__)


def sweep_once(db: Database, dispatch, lease_s: float, batch: int = 500) -> int:  # type: ignore[no-untyped-def]
    """Enqueue outbox rows that are due and were never dispatched or not finished within
    their lease. Returns how many were enqueued. Raises ServiceUnavailable when the database
    is down."""
    now = dt.datetime.now(dt.UTC)
    stale = now - dt.timedelta(seconds=lease_s)
    with db.transaction() as session:
        query = (
            select(Outbox.delivery_id, Outbox.priority)
            .where(Outbox.available_at <= now,
                   or_(Outbox.dispatched_at.is_(None), Outbox.dispatched_at < stale))
            .order_by(Outbox.available_at)
            .limit(batch)
        )
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return 0
        ids = [r.delivery_id for r in rows]
        session.execute(update(Outbox).where(Outbox.delivery_id.in_(ids))
                        .values(dispatched_at=now))
    for priority in sorted({r.priority for r in rows}, reverse=True):
        dispatch([r.delivery_id for r in rows if r.priority == priority], priority)
    log.info("sweeper re-enqueued %d deliveries", len(rows))
    return len(rows)


class Sweeper(threading.Thread):
    """Runs sweep_once every `interval` seconds until stopped."""

    def __init__(self, db: Database, dispatch, interval: float, lease_s: float) -> None:  # type: ignore[no-untyped-def]
        super().__init__(name="lienthong-sweeper", daemon=True)
        self.db, self.dispatch, self.interval, self.lease_s = db, dispatch, interval, lease_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                while sweep_once(self.db, self.dispatch, self.lease_s) >= 500:
                    pass
            except Exception:
                log.warning("sweep failed; trying again in %.0f s", self.interval, exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
