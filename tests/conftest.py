"""Shared fixtures: settings on a fresh database, real PostgreSQL and Redis, receivers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests import services
from tests.support import Receiver, run_receiver

# The fixtures through which a test reaches a real service; `integration` means using one.
SERVICE_FIXTURES = frozenset({"pg_server", "redis_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run when the `integration` marker and the services a test uses disagree,
    so that `-m integration` and `-m "not integration"` select what they say."""
    wrong = []
    for item in items:
        uses = bool(SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())))
        marked = item.get_closest_marker("integration") is not None
        if uses and not marked:
            wrong.append(f"{item.nodeid}: uses PostgreSQL or Redis but is not marked integration")
        elif marked and not uses:
            wrong.append(f"{item.nodeid}: marked integration but uses neither PostgreSQL nor "
                         "Redis")
    if wrong:
        raise pytest.UsageError("markers that do not say what the tests need:\n  "
                                + "\n  ".join(wrong))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    with services.postgres_url() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str | None]:
    with services.redis_url() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str | None) -> Iterator[str]:
    """A brand-new PostgreSQL database for this test, dropped afterwards."""
    with services.fresh_database(services.require(pg_server, "PostgreSQL")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str | None) -> str:
    return services.require(redis_server, "Redis")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


FAST_DELIVERY = {"min_backoff_ms": 50, "max_backoff_ms": 200, "timeout_s": 5.0,
                 "sweep_interval_s": 0.5, "lease_s": 5.0, "worker_threads": 4,
                 "breaker_cooldown_s": 0.5}


@pytest.fixture
def make_settings(sqlite_url: str) -> Callable[..., Settings]:
    """Settings for a test: embedded SQLite unless told otherwise, fast retries."""

    def build(**over: Any) -> Settings:
        delivery = {**FAST_DELIVERY, **over.pop("delivery", {})}
        over.setdefault("database_url", sqlite_url)
        over.setdefault("broker_namespace", f"lt-test-{uuid.uuid4().hex[:8]}")
        return Settings(delivery=delivery, **over)

    return build


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as r:
        yield r
