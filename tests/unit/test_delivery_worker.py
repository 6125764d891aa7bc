"""One delivery attempt at a time: claim, adapter, outcome; with the in-memory adapter."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, or_, select

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import DeliveryRejected
from core.model import Kind
from core.settings import Settings
from hub.context import HubContext
from hub.delivery.worker import utcnow
from hub.store.models import Delivery
from routing.directory import Directory
from security.egress import Egress
from tests.support import body, document, key_hash, wait_until

SENDER, RECIPIENT = "000.00.00.H57", "000.00.02.H57"


def hub(tmp_path: Path, adapter: MemoryAdapter, max_attempts: int = 3,
        min_backoff_ms: int = 1) -> HubContext:
    directory = Directory.from_dict({
        "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                          {"code": RECIPIENT, "name": "Sở", "level": "department"}],
        "systems": [
            {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k")]},
            {"id": "so", "organizations": [RECIPIENT],
             "receive": {"mode": "push", "adapter": "memory", "url": "http://so.invalid/in"}},
        ]})
    registry = AdapterRegistry(Egress(), factories={})
    registry.register("memory", adapter)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        delivery={"max_attempts": max_attempts,
                                  "min_backoff_ms": min_backoff_ms,
                                  "max_backoff_ms": 2 * min_backoff_ms})
    ctx = HubContext.build(settings, directory=directory, adapters=registry)
    ctx.deliverer.schedule = lambda ids, prio, delay: None  # attempts are driven by the test
    return ctx


def submit(ctx: HubContext) -> str:
    system = ctx.directory.system("tinh")
    assert system is not None
    receipt = ctx.ingest.submit(system, body(document(7, to=(RECIPIENT,))),
                                "application/json", Kind.DOCUMENT)
    return receipt.id


def delivery_id(ctx: HubContext, message_id: str) -> str:
    from hub.query import message_view

    return str(message_view(ctx.db, ctx.settings, None, message_id)["deliveries"][0]["id"])


def due(ctx: HubContext, delivery: str) -> bool:
    """The delivery's backoff is over: a worker may claim it now."""
    with ctx.db.reading() as session:
        return bool(session.scalar(
            select(func.count()).select_from(Delivery)
            .where(Delivery.id == delivery,
                   or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= utcnow()))))


def run_when_due(ctx: HubContext, delivery: str) -> str:
    wait_until(lambda: due(ctx, delivery), timeout=10, interval=0.005, what="the backoff to end")
    return ctx.deliverer.run(delivery).state


def test_transient_failures_retry_then_deliver(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=2)
    ctx = hub(tmp_path, adapter)
    try:
        d = delivery_id(ctx, submit(ctx))
        outcomes = [run_when_due(ctx, d) for _ in range(3)]
        assert outcomes == ["retrying", "retrying", "delivered"]
        assert ctx.deliverer.run(d).state == "skipped"  # finished: a late copy does nothing
        assert len(adapter.delivered) == 1
        assert adapter.delivered[0].attempt == 3
    finally:
        ctx.close()


def test_the_last_attempt_makes_a_dead_letter(tmp_path: Path) -> None:
    ctx = hub(tmp_path, MemoryAdapter(fail_first=10), max_attempts=2)
    try:
        d = delivery_id(ctx, submit(ctx))
        states = [run_when_due(ctx, d) for _ in range(2)]
        assert states == ["retrying", "dead"]
    finally:
        ctx.close()


def test_a_permanent_refusal_is_dead_at_once(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=1, error=lambda: DeliveryRejected("HTTP 400"))
    ctx = hub(tmp_path, adapter)
    try:
        d = delivery_id(ctx, submit(ctx))
        assert ctx.deliverer.run(d).state == "dead"
        assert adapter.delivered == []
    finally:
        ctx.close()


def test_a_retry_is_not_attempted_before_its_backoff_ends(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=1)
    ctx = hub(tmp_path, adapter, min_backoff_ms=2000)
    try:
        d = delivery_id(ctx, submit(ctx))
        failed = ctx.deliverer.run(d)
        assert failed.state == "retrying" and 1000 <= (failed.retry_in_ms or 0) <= 2000
        assert ctx.deliverer.run(d).state == "skipped"  # at least a second early
        assert adapter.delivered == []
        assert run_when_due(ctx, d) == "delivered"
        assert [o.attempt for o in adapter.delivered] == [2]
    finally:
        ctx.close()
