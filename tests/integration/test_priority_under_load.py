"""An urgent document overtakes a backlog of routine ones waiting for a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.integration.test_worker_crash import directory_file, start_worker
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

# real PostgreSQL and Redis, and a worker process started by the test
pytestmark = [pytest.mark.integration, pytest.mark.e2e]
BACKLOG = 2_000
# A worker consumes both queues at once and prefetches from each; its threads take what it
# holds by lane, urgent first, so the urgent document may only wait behind the routine ones
# already in a thread's hands when it reached the worker: a handful, far under this bound.
BOUND = BACKLOG // 10


def test_an_urgent_document_overtakes_a_routine_backlog(tmp_path: Path, pg_url: str,
                                                        redis_url: str,
                                                        receiver: Receiver) -> None:
    namespace = f"lt-lanes-{os.getpid()}-{int(time.time())}"
    dir_file = directory_file(tmp_path, receiver.url)
    env = {
        **os.environ,
        "LIENTHONG_DATABASE_URL": pg_url,
        "LIENTHONG_REDIS_URL": redis_url,
        "LIENTHONG_DIRECTORY_FILE": str(dir_file),
        "LIENTHONG_BROKER_NAMESPACE": namespace,
    }
    settings = Settings(database_url=pg_url, redis_url=redis_url, directory_file=dir_file,
                        broker_namespace=namespace, embedded_worker=False)
    log = tmp_path / "worker.log"
    headers = {"Authorization": f"Bearer {KEYS['province']}",
               "Content-Type": "application/json"}
    with run_hub(settings, hue_directory(receiver.url)) as hub:
        started = time.monotonic()
        with httpx.Client(base_url=hub.url, headers=headers,
                          limits=httpx.Limits(max_connections=8)) as client:

            def submit(n: int, priority: str = "0") -> str:
                doc = document(10_000 + n, to=(DEPARTMENT,), otherInfo={"priority": priority})
                r = client.post("/api/v1/documents", content=body(doc))
                assert r.status_code == 202, r.text
                return str(r.json()["id"])

            with ThreadPoolExecutor(max_workers=8) as pool:
                routine = set(pool.map(submit, range(BACKLOG)))
            urgent = submit(BACKLOG, priority="2")  # thượng khẩn, after the whole backlog
        print(f"\nsubmitted {BACKLOG + 1} documents in {time.monotonic() - started:.1f} s")
        assert len(routine) == BACKLOG
        assert not receiver.at("/department"), "nothing is delivered without a worker"

        worker = start_worker(env, log)
        try:
            wait_until(lambda: urgent in receiver.message_ids("/department"), timeout=60,
                       interval=0.02, what="the urgent document to be delivered",
                       progress=lambda: f"{len(receiver.at('/department'))} routine delivered")
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    arrivals = receiver.message_ids("/department")
    position = arrivals.index(urgent) + 1
    print(f"the urgent document arrived {position} of {len(arrivals)} delivered "
          f"(backlog {BACKLOG})")
    assert set(arrivals[:position - 1]) <= routine
    assert position <= BOUND, (
        f"the urgent document arrived {position}th, behind {position - 1} routine ones")
