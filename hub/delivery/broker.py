"""The broker, chosen once from settings: Redis in production, in-process when embedded."""

from __future__ import annotations

from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from core.settings import Settings


def make_broker(settings: Settings) -> Broker:
    """A fresh broker (never the global one). Raises redis errors only when first used."""
    if settings.redis_url:
        return RedisBroker(
            url=settings.redis_url,
            namespace=settings.broker_namespace,
            heartbeat_timeout=int(settings.delivery.heartbeat_timeout_s * 1000),
            # requeue a dead worker's messages promptly: the check is cheap
            maintenance_chance=50,
        )
    broker = StubBroker()
    broker.emit_after("process_boot")
    return broker
