"""While the database is down, the delivery actors, the audit checkpointer, the sweeper and
the lease renewer each say so once, and once again when it is back: not a traceback per
delivery, nor one per poll."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker

from adapters.memory import MemoryAdapter
from core.errors import ServiceUnavailable
from core.settings import Delivery as DeliverySettings
from core.settings import Settings
from hub.checkpointer import Checkpointer
from hub.delivery import sweeper as sweeper_module
from hub.delivery.dispatcher import QUEUE_NORMAL, Dispatcher
from hub.delivery.sweeper import Sweeper
from hub.store.db import Database
from hub.store.migrate import upgrade
from tests.audit_support import audit_settings
from tests.support import wait_until
from tests.unit.memory_hub import memory_hub


def outage() -> ServiceUnavailable:
    """What Database.transaction raises when PostgreSQL went away under a connection."""
    try:
        raise ConnectionError("server closed the connection unexpectedly\n\tThis probably...")
    except ConnectionError as cause:
        exc = ServiceUnavailable("the database is unavailable", code="database_unavailable")
        exc.__cause__ = cause
        return exc


def test_deliveries_during_a_database_outage_are_one_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        delivery={"worker_threads": 4})
    db = Database(settings.database_url)
    dispatcher = Dispatcher(settings, db)
    down = threading.Event()
    down.set()
    handled: list[str] = []
    lock = threading.Lock()

    def handler(delivery_id: str) -> None:
        with lock:
            handled.append(delivery_id)
        if down.is_set():
            raise outage()

    dispatcher.bind(handler)
    worker = dispatcher.make_worker()
    worker.start()
    broker = dispatcher.broker
    assert isinstance(broker, StubBroker)
    try:
        dispatcher.dispatch([f"d{n}" for n in range(40)])
        broker.join(QUEUE_NORMAL, timeout=10_000)
        down.clear()  # the database answers again
        dispatcher.dispatch([f"e{n}" for n in range(10)])
        broker.join(QUEUE_NORMAL, timeout=10_000)
    finally:
        worker.stop()
        dispatcher.close()
        db.dispose()

    assert len(handled) == 50
    assert broker.dead_letters == []  # acknowledged: the outbox brings them back
    assert not [r for r in caplog.records if r.exc_info], "no traceback per delivery"
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.name) for r in said] == [
        ("ERROR", "hub.delivery.dispatcher"), ("WARNING", "hub.delivery.dispatcher")]
    lost, back = (r.getMessage() for r in said)
    assert lost.startswith("database unavailable (ConnectionError: server closed the "
                           "connection unexpectedly)")
    assert "the sweeper sends them again" in lost and "20 s dispatch lease" in lost
    assert back == "database reachable again; deliveries are recorded"


def test_checkpoints_during_a_database_outage_are_one_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = audit_settings(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path)
    db = Database(settings.database_url)
    upgrade(db.engine)
    writer = Checkpointer.from_settings(db, settings)
    checkpoint_once = writer.checkpoint_once
    polls = 0

    def polled(force: bool = False) -> object:
        nonlocal polls
        polls += 1
        if polls <= 30:  # thirty polls, half a minute of outage
            raise outage()
        return checkpoint_once(force)

    monkeypatch.setattr(writer, "checkpoint_once", polled)
    caplog.set_level(logging.INFO, logger="hub.checkpointer")
    caplog.clear()  # the key made on first start is announced: not what this is about
    try:
        for _ in range(35):
            writer._safely()
    finally:
        writer.sinks.close()
        db.dispose()
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in said if r.exc_info]
    assert [(r.levelname, r.getMessage()) for r in said] == [
        ("ERROR", "audit checkpoints wait: the database is unavailable (ConnectionError: "
                  "server closed the connection unexpectedly)"),
        ("WARNING", "database reachable again; audit checkpoints resume")]


def test_sweeps_during_a_database_outage_are_one_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, logger="hub.delivery.sweeper")
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    sweeps = 0

    def sweep(*_args: object) -> int:
        nonlocal sweeps
        sweeps += 1
        if sweeps <= 20:
            raise outage()
        return 0

    monkeypatch.setattr(sweeper_module, "sweep_once", sweep)
    # the other step of a sweep (deliveries held behind finished ones) is not looked at here
    monkeypatch.setattr(sweeper_module, "release_stranded", lambda _db: 0)
    sweeper = Sweeper(db, lambda ids, priority: True, DeliverySettings(sweep_interval_s=0.01))
    sweeper.start()
    try:
        wait_until(lambda: sweeps >= 25, what="25 sweeps", progress=lambda: sweeps)
    finally:
        sweeper.stop()
        sweeper.join(timeout=5)
        db.dispose()
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in said] == [
        ("ERROR", "sweeps wait: the database is unavailable (ConnectionError: server closed "
                  "the connection unexpectedly)", False),
        ("WARNING", "database reachable again; sweeps resume", False)]


def test_lease_renewals_during_a_database_outage_are_one_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, logger="hub.delivery.worker")
    ctx = memory_hub(tmp_path, MemoryAdapter(), lease_s=0.03)  # renewed every 10 ms
    renewals = 0

    def renew() -> int:
        nonlocal renewals
        renewals += 1
        if renewals <= 20:
            raise outage()
        return 1

    monkeypatch.setattr(ctx.deliverer, "renew_leases", renew)
    stop = threading.Event()
    renewer = threading.Thread(target=ctx.deliverer._renew_forever, args=(stop,), daemon=True)
    renewer.start()
    try:
        wait_until(lambda: renewals >= 25, what="25 renewals", progress=lambda: renewals)
    finally:
        stop.set()
        renewer.join(timeout=5)
        ctx.close()
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, bool(r.exc_info)) for r in said] == [("ERROR", False),
                                                                ("WARNING", False)]
    assert said[0].getMessage().startswith(
        "could not renew the leases of running attempts: the database is unavailable "
        "(ConnectionError: server closed the connection unexpectedly)")
    assert said[1].getMessage() == "database reachable again; leases are renewed"
