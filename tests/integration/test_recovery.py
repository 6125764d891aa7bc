"""With the default settings, deliveries the broker lost or a dead worker held move again
within 30 s; while Redis is down the logs say so once, and /readyz says the broker is down."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from core.settings import Settings
from hub.context import HubContext
from hub.store.models import Delivery
from tests.integration.test_worker_crash import directory_file
from tests.support import (
    DEPARTMENT,
    KEYS,
    Receiver,
    body,
    document,
    free_port,
    hue_directory,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration
RECOVERY_S = 30  # what an operator is promised with the defaults


def defaults(pg_url: str, redis_url: str, namespace: str, **over: object) -> Settings:
    """Settings as shipped: nothing about delivery is overridden."""
    return Settings(database_url=pg_url, redis_url=redis_url, broker_namespace=namespace,
                    embedded_worker=False, **over)  # type: ignore[arg-type]


@pytest.fixture
def namespace() -> Iterator[str]:
    yield f"lt-recovery-{uuid.uuid4().hex[:10]}"


def submit(url: str, count: int, first: int) -> set[str]:
    ids = set()
    with httpx.Client(base_url=url, timeout=30, headers={
            "Authorization": f"Bearer {KEYS['province']}",
            "Content-Type": "application/json"}) as client:
        for n in range(count):
            r = client.post("/api/v1/documents", content=body(document(first + n,
                                                                       to=(DEPARTMENT,))))
            assert r.status_code == 202, r.text
            ids.add(r.json()["id"])
    return ids


def recovered(ctx: HubContext, reason: str) -> float:
    value = ctx.metrics.registry.get_sample_value("lienthong_deliveries_recovered_total",
                                                  {"reason": reason})
    return value or 0.0


def test_deliveries_the_broker_lost_arrive_within_30_s(pg_url: str, redis_url: str,
                                                       namespace: str, receiver: Receiver,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hub.delivery")
    settings = defaults(pg_url, redis_url, namespace)
    directory = hue_directory(receiver.url)
    with run_hub(settings, directory) as hub:
        ids = submit(hub.url, 40, 5000)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{namespace}:*"))
        assert keys, "the broker held the deliveries"
        client.delete(*keys)  # Redis lost its queue (a restart without persistence, a flush)
        lost_at = time.monotonic()

        worker = HubContext.build(settings, directory=directory)
        try:
            worker.start_worker()
            wait_until(lambda: set(receiver.message_ids("/department")) >= ids,
                       timeout=RECOVERY_S, what="every lost delivery",
                       progress=lambda: f"{len(ids - set(receiver.message_ids()))} missing")
            took = time.monotonic() - lost_at
            assert recovered(worker, "broker_lost") == len(ids)
        finally:
            worker.close()
    assert len(receiver.message_ids("/department")) == len(ids), "each delivered once"
    swept = [r for r in caplog.records if "sweeper re-enqueued" in r.getMessage()]
    assert swept and all(r.levelno == logging.WARNING for r in swept)
    assert "broker_lost=40" in " ".join(r.getMessage() for r in swept)
    print(f"lost deliveries delivered {took:.1f} s after the flush")


@pytest.mark.e2e  # a worker process started and killed
def test_a_killed_workers_deliveries_arrive_within_30_s(tmp_path: Path, pg_url: str,
                                                        redis_url: str, namespace: str,
                                                        receiver: Receiver) -> None:
    held_gate = receiver.gate
    held_gate.clear()  # the receiver holds every request: the first worker's claims stay held
    env = {**os.environ, "LIENTHONG_DATABASE_URL": pg_url, "LIENTHONG_REDIS_URL": redis_url,
           "LIENTHONG_DIRECTORY_FILE": str(directory_file(tmp_path, receiver.url)),
           "LIENTHONG_BROKER_NAMESPACE": namespace}
    settings = defaults(pg_url, redis_url, namespace)
    directory = hue_directory(receiver.url)
    log = tmp_path / "worker.log"
    with run_hub(settings, directory) as hub:
        ids = submit(hub.url, 20, 6000)
        first = subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"], env=env,
                                 stdout=log.open("ab"), stderr=subprocess.STDOUT)
        try:
            threads = settings.delivery.worker_threads
            wait_until(lambda: delivering(hub.ctx) >= threads, timeout=30,
                       what=f"the first worker to claim {threads} deliveries",
                       progress=lambda: delivering(hub.ctx))
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        killed_at = time.monotonic()
        # the dead worker's requests stay held (they never complete); new ones are answered
        receiver.gate = threading.Event()
        receiver.gate.set()
        assert not receiver.at("/department")

        second = HubContext.build(settings, directory=directory)
        try:
            second.start_worker()
            wait_until(lambda: set(receiver.message_ids("/department")) >= ids,
                       timeout=RECOVERY_S, what="every delivery the dead worker held",
                       progress=lambda: f"{len(ids - set(receiver.message_ids()))} missing")
            took = time.monotonic() - killed_at
            # its claimed deliveries came back through their expired leases
            assert recovered(second, "worker_died") >= 1
        finally:
            second.close()
    held_gate.set()
    print(f"a dead worker's deliveries delivered {took:.1f} s after the kill")


def delivering(ctx: HubContext) -> int:
    with ctx.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.state == "delivering")) or 0)


def test_redis_down_is_said_once_and_readyz_says_so(pg_url: str, redis_url: str,
                                                     namespace: str, receiver: Receiver,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    dead = defaults(pg_url, f"redis://127.0.0.1:{free_port()}/0", namespace)
    directory = hue_directory(receiver.url)
    count = 25
    with run_hub(dead, directory) as hub:
        ids = submit(hub.url, count, 7000)
        ready = httpx.get(f"{hub.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["broker"] is False and ready.json()["database"] is True

    # what the delivery path says (the rate limiter's own fallback is logged by hub.api.guard)
    ours = [r for r in caplog.records if r.name.startswith("hub.delivery")]
    down = [r for r in ours if "broker unreachable" in r.getMessage()]
    assert len(down) == 1, [r.getMessage() for r in down]
    assert "ConnectionError" in down[0].getMessage()
    assert not [r for r in ours if r.exc_info], "no traceback per delivery"
    assert len([r for r in ours if r.levelno >= logging.WARNING]) == 1

    up = defaults(pg_url, redis_url, namespace)
    worker = HubContext.build(up, directory=directory)
    try:
        worker.start_worker()
        wait_until(lambda: set(receiver.message_ids("/department")) >= ids,
                   timeout=RECOVERY_S, what="the deliveries that waited for the broker")
        assert recovered(worker, "undispatched") == count
        assert recovered(worker, "broker_lost") == recovered(worker, "worker_died") == 0
    finally:
        worker.close()
