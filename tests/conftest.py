"""Shared fixtures: settings on a fresh database, real PostgreSQL and Redis, receivers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from hub.settings import Settings
from tests import services
from tests.support import Receiver, run_receiver


def _unavailable(what: str) -> None:
    message = f"{what} is not available (set LIENTHONG_TEST_DATABASE_URL / _REDIS_URL)"
    if services.in_ci():
        pytest.fail(message + "; under CI a missing service fails the run")
    pytest.skip(message)


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
    if pg_server is None:
        _unavailable("PostgreSQL")
    assert pg_server is not None
    base = make_url(pg_server)
    name = f"lt_{uuid.uuid4().hex[:12]}"
    admin = dict(host=base.host, port=base.port or 5432, user=base.username or "postgres",
                 dbname=base.database or "postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url(redis_server: str | None) -> str:
    if redis_server is None:
        _unavailable("Redis")
    assert redis_server is not None
    return redis_server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


FAST_DELIVERY = {"min_backoff_ms": 50, "max_backoff_ms": 200, "timeout_s": 5.0,
                 "sweep_interval_s": 0.5, "lease_s": 5.0, "worker_threads": 4}


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
