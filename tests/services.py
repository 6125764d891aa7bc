"""Real PostgreSQL and Redis for the tests: the ones at the given URLs, or throwaway ones.

Order: LIENTHONG_TEST_DATABASE_URL / LIENTHONG_TEST_REDIS_URL, else the standard local
ports, else a throwaway server started from the binaries on PATH (pytest-postgresql and
pytest-redis executors). When none works the test fails under CI=true and is skipped with
the reason otherwise: it never silently passes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1.0):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_url() -> Iterator[str | None]:
    url = os.environ.get("LIENTHONG_TEST_DATABASE_URL", DEFAULT_PG)
    if reachable(url):
        yield url
        return
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None or os.geteuid() == 0:  # initdb refuses to run as root
        yield None
        return
    from pytest_postgresql.executors.proc import PostgreSQLExecutor

    tmp = Path(tempfile.mkdtemp(prefix="lt-pg-"))
    port = _free_port()
    executor = PostgreSQLExecutor(
        executable=pg_ctl, host="127.0.0.1", port=port, datadir=str(tmp / "data"),
        unixsocketdir=str(tmp), logfile=str(tmp / "log"), startparams="-w", dbname="test",
    )
    executor.start()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    finally:
        executor.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def redis_url() -> Iterator[str | None]:
    url = os.environ.get("LIENTHONG_TEST_REDIS_URL", DEFAULT_REDIS)
    if reachable(url):
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        yield None
        return
    from pytest_redis.executor.process import RedisExecutor

    tmp = Path(tempfile.mkdtemp(prefix="lt-redis-"))
    port = _free_port()
    executor = RedisExecutor(server, databases=4, redis_timeout=30, loglevel="warning",
                             host="127.0.0.1", port=port, datadir=tmp)
    executor.start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        executor.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "lt") -> Iterator[str]:
    """A brand-new database on `server_url`, dropped afterwards."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = {"host": base.host, "port": base.port or 5432, "user": base.username or "postgres",
             "dbname": base.database or "postgres", "autocommit": True}
    with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require(url: str | None, what: str) -> str:
    """The service URL, or fail (under CI) / skip (elsewhere) saying what is missing."""
    if url is None:
        unavailable(f"{what} is not available (set LIENTHONG_TEST_DATABASE_URL / _REDIS_URL)")
    return url


def unavailable(message: str) -> NoReturn:
    """A service or binary a test needs is missing: under CI the run fails (never a silent
    pass); elsewhere the test is skipped, saying what is missing."""
    import pytest

    if in_ci():
        pytest.fail(message + "; under CI a missing service fails the run")
    pytest.skip(message)
