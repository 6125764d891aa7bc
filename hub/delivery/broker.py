"""The broker, chosen once from settings: Redis in production, in-process when embedded."""

from __future__ import annotations

from dramatiq import Broker, Middleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries, default_middleware

from core.settings import Settings


def broker_middleware() -> list[Middleware]:
    """dramatiq's default middleware without Retries.

    Retries live in the hub's database (hub/delivery/worker.py): every attempt, the backoff
    and the dead letter are rows an operator sees and that survive the loss of Redis. The
    middleware is left out rather than set to `max_retries=0` on the actors: with it, a
    failed message would still be parked in the broker's own dead-letter set (unseen,
    expiring after 7 days), and an actor declared without the option would silently get
    dramatiq's 20 retries; without it no actor on this broker can be retried by the broker
    at all (declaring `max_retries` is an error). A message whose actor raised is simply
    acknowledged; its outbox row brings the delivery back (hub/delivery/sweeper.py).
    """
    return [m() for m in default_middleware if m is not Retries]


def make_broker(settings: Settings) -> Broker:
    """A fresh broker (never the global one). Raises redis errors only when first used."""
    if settings.redis_url:
        return RedisBroker(
            url=settings.redis_url,
            namespace=settings.broker_namespace,
            middleware=broker_middleware(),
            heartbeat_timeout=int(settings.delivery.heartbeat_timeout_s * 1000),
            # requeue a dead worker's messages promptly: the check is cheap
            maintenance_chance=50,
        )
    broker = StubBroker(middleware=broker_middleware())
    broker.emit_after("process_boot")
    return broker
