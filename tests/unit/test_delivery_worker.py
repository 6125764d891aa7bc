"""One delivery attempt at a time: claim, adapter, outcome; with the in-memory adapter."""

from __future__ import annotations

import time
from pathlib import Path

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import DeliveryRejected
from core.model import Kind
from core.settings import Settings
from hub.context import HubContext
from routing.directory import Directory
from security.egress import Egress
from tests.support import body, document, key_hash

SENDER, RECIPIENT = "000.00.00.H57", "000.00.02.H57"


def hub(tmp_path: Path, adapter: MemoryAdapter, max_attempts: int = 3) -> HubContext:
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
                        delivery={"max_attempts": max_attempts, "min_backoff_ms": 1,
                                  "max_backoff_ms": 2})
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


def test_transient_failures_retry_then_deliver(tmp_path: Path) -> None:
    adapter = MemoryAdapter(fail_first=2)
    ctx = hub(tmp_path, adapter)
    try:
        d = delivery_id(ctx, submit(ctx))
        outcomes = []
        for _ in range(3):
            time.sleep(0.01)  # past the (tiny) backoff
            outcomes.append(ctx.deliverer.run(d).state)
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
        states = []
        for _ in range(2):
            time.sleep(0.01)
            states.append(ctx.deliverer.run(d).state)
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
