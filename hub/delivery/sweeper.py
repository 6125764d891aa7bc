"""The sweeper: re-enqueues outbox rows the broker lost (down, flushed, or a dead worker)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from core.errors import ServiceUnavailable
from core.settings import Delivery as DeliverySettings
from hub.delivery.release import release_stranded
from hub.metrics import Metrics
from hub.outage import Outage
from hub.store.db import Database
from hub.store.models import Delivery, Outbox

log = logging.getLogger(__name__)

BATCH = 500
# why a row is sent again (the `reason` label of lienthong_deliveries_recovered_total)
UNDISPATCHED = "undispatched"  # the broker refused it (down) when it was first sent
BROKER_LOST = "broker_lost"  # sent, never claimed: the broker lost the message
WORKER_DIED = "worker_died"  # claimed, and the claim's lease ran out unrenewed

# returns False when the broker refused (some of) the deliveries
Dispatch = Callable[[list[str], int], object]


def _epoch(db: Database, column: Any) -> Any:
    """Seconds since 1970 of a timestamp column, in the database's own arithmetic."""
    if db.is_postgres:
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def sweep_once(db: Database, dispatch: Dispatch, settings: DeliverySettings,
               metrics: Metrics | None = None, batch: int = BATCH) -> int:
    """Send again the outbox rows that are due and that nobody will deliver otherwise.

    A row qualifies when it was never dispatched (the broker refused it); when its delivery
    is claimed but the claim's lease expired (the worker died) and it was not sent again
    since; or when it was sent but not claimed within the dispatch lease after it was due
    (the broker lost it). The wait before a row is sent again grows with how long it has
    waited already (at least `dispatch_lease_s`, at most `dispatch_lease_max_s`), so a row
    waiting in a long but healthy broker queue is not re-sent on every sweep. Returns how
    many rows were sent again. Raises ServiceUnavailable when the database is down.
    """
    now = dt.datetime.now(dt.UTC)
    lease_ago = now - dt.timedelta(seconds=settings.dispatch_lease_s)
    max_ago = now - dt.timedelta(seconds=settings.dispatch_lease_max_s)
    sent, due = _epoch(db, Outbox.dispatched_at), _epoch(db, Outbox.available_at)
    with db.transaction() as session:
        claimed = Delivery.state == "delivering"
        query = (
            select(Outbox.delivery_id, Outbox.priority, Outbox.dispatched_at, claimed)
            .join(Delivery, Delivery.id == Outbox.delivery_id, isouter=True)
            .where(
                Outbox.available_at <= now,
                or_(
                    Outbox.dispatched_at.is_(None),
                    and_(claimed, Delivery.lease_until < now,
                         or_(Outbox.dispatched_at < Delivery.lease_until,
                             Outbox.dispatched_at < lease_ago)),
                    and_(or_(Delivery.state.is_(None), Delivery.state != "delivering"),
                         Outbox.dispatched_at < lease_ago, Outbox.available_at < lease_ago,
                         # waited since sent >= waited before it: the wait doubles
                         or_(Outbox.dispatched_at < max_ago,
                             2 * sent - due < now.timestamp())),
                ),
            )
            .order_by(Outbox.available_at)
            .limit(batch)
        )
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True, of=Outbox)
        rows = session.execute(query).all()
        if not rows:
            return 0
        ids = [r.delivery_id for r in rows]
        session.execute(update(Outbox).where(Outbox.delivery_id.in_(ids))
                        .values(dispatched_at=now))
    reasons = Counter(UNDISPATCHED if r.dispatched_at is None
                      else WORKER_DIED if r[3] else BROKER_LOST for r in rows)
    accepted = True
    for priority in sorted({r.priority for r in rows}, reverse=True):
        lane = [r.delivery_id for r in rows if r.priority == priority]
        accepted = dispatch(lane, priority) is not False and accepted
    if not accepted:
        # the dispatcher said once that the broker is down and put the rows back
        return 0
    if metrics is not None:
        for reason, count in reasons.items():
            metrics.recovered.labels(reason).inc(count)
    summary = ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items()))
    level = logging.INFO if set(reasons) == {UNDISPATCHED} else logging.WARNING
    log.log(level, "sweeper re-enqueued %d deliveries (%s)", len(rows), summary)
    return len(rows)


class Sweeper(threading.Thread):
    """Runs sweep_once every `settings.sweep_interval_s` seconds until stopped; skips the
    sweep while the broker does not answer (`broker_up`), which logs the change once."""

    def __init__(self, db: Database, dispatch: Dispatch, settings: DeliverySettings,
                 metrics: Metrics | None = None,
                 broker_up: Callable[[], bool] = lambda: True) -> None:
        super().__init__(name="lienthong-sweeper", daemon=True)
        self.db, self.dispatch, self.settings = db, dispatch, settings
        self.metrics, self.broker_up = metrics, broker_up
        self._stop_event = threading.Event()
        self.database = Outage(log, "sweeps wait: the database is unavailable (%s)",
                               "database reachable again; sweeps resume")

    def run(self) -> None:
        interval = self.settings.sweep_interval_s
        while not self._stop_event.wait(interval):
            try:
                if not self.broker_up():
                    continue
                release_stranded(self.db)
                while sweep_once(self.db, self.dispatch, self.settings,
                                 self.metrics) >= BATCH:
                    pass
            except ServiceUnavailable as exc:
                self.database.failed(exc)
            except Exception:
                log.warning("sweep failed; trying again in %.0f s", interval, exc_info=True)
            else:
                self.database.answered()

    def stop(self) -> None:
        self._stop_event.set()
