"""Killing a worker in the middle of a batch loses nothing: a new worker delivers the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from core.settings import Settings
from tests.support import (
    DEPARTMENT,
    KEYS,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
    wait_until,
)

# real PostgreSQL and Redis, and worker processes started and killed
pytestmark = [pytest.mark.integration, pytest.mark.e2e]
BATCH = 500


def directory_file(tmp_path: Path, receiver_url: str) -> Path:
    directory = hue_directory(receiver_url)
    data = {
        "organizations": [o.model_dump(mode="json") for o in directory.organizations()],
        "systems": [s.model_dump(mode="json") for s in directory.systems()],
    }
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "worker"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def test_killed_worker_loses_nothing(tmp_path: Path, pg_url: str, redis_url: str,
                                     receiver: Receiver) -> None:
    receiver.delay_s = 0.02  # a receiver that takes a moment, so the kill lands mid-batch
    namespace = f"lt-crash-{os.getpid()}-{int(time.time())}"
    dir_file = directory_file(tmp_path, receiver.url)
    env = {
        **os.environ,
        "LIENTHONG_DATABASE_URL": pg_url,
        "LIENTHONG_REDIS_URL": redis_url,
        "LIENTHONG_DIRECTORY_FILE": str(dir_file),
        "LIENTHONG_BROKER_NAMESPACE": namespace,
        "LIENTHONG_DELIVERY__LEASE_S": "3",
        "LIENTHONG_DELIVERY__SWEEP_INTERVAL_S": "0.5",
        "LIENTHONG_DELIVERY__HEARTBEAT_TIMEOUT_S": "2",
        "LIENTHONG_DELIVERY__WORKER_THREADS": "4",
        "LIENTHONG_DELIVERY__MIN_BACKOFF_MS": "100",
    }
    settings = Settings(database_url=pg_url, redis_url=redis_url, directory_file=dir_file,
                        broker_namespace=namespace, embedded_worker=False)
    log = tmp_path / "workers.log"
    with run_hub(settings, hue_directory(receiver.url)) as hub:
        ids = set()
        with httpx.Client(base_url=hub.url, headers={
                "Authorization": f"Bearer {KEYS['province']}",
                "Content-Type": "application/json"}) as client:
            for n in range(BATCH):
                r = client.post("/api/v1/documents",
                                content=body(document(1000 + n, to=(DEPARTMENT,))))
                assert r.status_code == 202, r.text
                ids.add(r.json()["id"])
        assert not receiver.at("/department"), "nothing is delivered without a worker"

        first = start_worker(env, log)
        try:
            wait_until(lambda: len(receiver.at("/department")) >= 50, timeout=60, interval=0.02,
                       what="the first worker to deliver 50 documents")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        delivered_at_kill = len(set(receiver.message_ids("/department")))
        assert 0 < delivered_at_kill < BATCH, "the kill must land in the middle of the batch"

        second = start_worker(env, log)
        try:
            wait_until(lambda: set(receiver.message_ids("/department")) >= ids, timeout=120,
                       interval=0.1, what=f"all {BATCH} documents delivered",
                       progress=lambda: f"{len(ids - set(receiver.message_ids()))} missing")
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(timeout=30)
            except subprocess.TimeoutExpired:
                second.kill()
    received = receiver.message_ids("/department")
    missing = ids - set(received)
    assert not missing, f"{len(missing)} of {BATCH} documents were never delivered"
    # at-least-once: a delivery in flight at the kill may arrive twice, never more than that
    duplicates = len(received) - len(set(received))
    assert duplicates <= 4 * 2, f"{duplicates} duplicate deliveries"
