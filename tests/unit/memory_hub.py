"""A hub on SQLite with the in-process broker and the in-memory adapter, for delivery tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dramatiq import Message as BrokerMessage
from dramatiq.brokers.stub import StubBroker

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.model import Kind
from core.settings import Settings
from hub.context import HubContext
from hub.query import message_view
from hub.store.models import Delivery
from routing.directory import Directory
from security.egress import Egress
from tests.support import body, document, key_hash

SENDER, RECIPIENT = "000.00.00.H57", "000.00.02.H57"
URGENT = "2"


def memory_hub(tmp_path: Path, adapter: MemoryAdapter, **delivery: Any) -> HubContext:
    """A hub whose one push system receives through `adapter`; no worker is started."""
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
                        delivery={"min_backoff_ms": 1, "max_backoff_ms": 2, "worker_threads": 2,
                                  **delivery})
    return HubContext.build(settings, directory=directory, adapters=registry)


def submit(ctx: HubContext, number: int = 7, priority: str = "0") -> str:
    """Submit a document to the push system; returns its one delivery's id."""
    system = ctx.directory.system("tinh")
    assert system is not None
    package = document(number, to=(RECIPIENT,), otherInfo={"priority": priority})
    receipt = ctx.ingest.submit(system, body(package), "application/json", Kind.DOCUMENT)
    return str(view(ctx, receipt.id)["id"])


def view(ctx: HubContext, message_id: str) -> dict[str, Any]:
    """The operator's view of the message's one delivery."""
    return dict(message_view(ctx.db, ctx.settings, None, message_id)["deliveries"][0])


def delivery_view(ctx: HubContext, delivery_id: str) -> dict[str, Any]:
    """The operator's view of one delivery, found by its id."""
    with ctx.db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        message_id = delivery.message_id
    return view(ctx, message_id)


def queued(ctx: HubContext, queue_name: str) -> list[str]:
    """Delivery ids waiting on one queue of the in-process broker (not consumed)."""
    broker = ctx.dispatcher.broker
    assert isinstance(broker, StubBroker)
    return [BrokerMessage.decode(raw).args[0] for raw in list(broker.queues[queue_name].queue)]
