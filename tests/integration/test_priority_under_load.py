"""An urgent document overtakes a backlog of routine ones, waiting or already prefetched."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from core.settings import Settings
from hub.delivery.dispatcher import QUEUE_NORMAL, QUEUE_URGENT
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
# A worker consumes both queues at once and prefetches from each (256 a queue by default);
# its threads take what it holds by lane, urgent first, so the urgent document may only
# wait behind the routine ones already in a thread's hands (8 threads): far under this bound,
# and under the prefetch it would wait behind if the worker took messages by arrival.
BOUND = BACKLOG // 10


@contextlib.contextmanager
def lanes_hub(tmp_path: Path, pg_url: str, redis_url: str, receiver: Receiver,
              ) -> Iterator[tuple[Callable[[int, str], str], Callable[[], subprocess.Popen[bytes]],
                              str]]:
    """A production hub (no embedded worker) on a fresh broker namespace: how to submit a
    document to the department, how to start a worker, and the namespace."""
    namespace = f"lt-lanes-{os.getpid()}-{time.monotonic_ns()}"
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
    workers: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        workers.append(start_worker(env, log))
        return workers[-1]

    with run_hub(settings, hue_directory(receiver.url)) as hub, httpx.Client(
            base_url=hub.url, headers=headers, limits=httpx.Limits(max_connections=8)) as client:

        def submit(n: int, priority: str = "0") -> str:
            doc = document(10_000 + n, to=(DEPARTMENT,), otherInfo={"priority": priority})
            r = client.post("/api/v1/documents", content=body(doc))
            assert r.status_code == 202, r.text
            return str(r.json()["id"])

        try:
            yield submit, start, namespace
        finally:
            receiver.gate.set()
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()


def submit_backlog(submit: Callable[[int, str], str]) -> set[str]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:  # one at a time takes four times longer
        routine = set(pool.map(lambda n: submit(n, "0"), range(BACKLOG)))
    print(f"\nsubmitted {BACKLOG} routine documents in {time.monotonic() - started:.1f} s")
    assert len(routine) == BACKLOG
    return routine


def arrival(receiver: Receiver, urgent: str, routine: set[str]) -> int:
    wait_until(lambda: urgent in receiver.message_ids("/department"), timeout=60,
               interval=0.02, what="the urgent document to be delivered",
               progress=lambda: f"{len(receiver.at('/department'))} routine delivered")
    arrivals = receiver.message_ids("/department")
    position = arrivals.index(urgent) + 1
    assert set(arrivals[:position - 1]) <= routine
    return position


def test_an_urgent_document_overtakes_a_waiting_routine_backlog(
        tmp_path: Path, pg_url: str, redis_url: str, receiver: Receiver) -> None:
    with lanes_hub(tmp_path, pg_url, redis_url, receiver) as (submit, start, _):
        routine = submit_backlog(submit)
        urgent = submit(BACKLOG, "2")  # thượng khẩn, after the whole backlog
        assert not receiver.at("/department"), "nothing is delivered without a worker"
        start()
        position = arrival(receiver, urgent, routine)
    print(f"waiting backlog: the urgent document arrived {position} of {BACKLOG + 1}")
    assert position <= BOUND, (
        f"the urgent document arrived {position}th, behind {position - 1} routine ones")


def test_an_urgent_document_overtakes_routine_ones_a_worker_has_prefetched(
        tmp_path: Path, pg_url: str, redis_url: str, receiver: Receiver) -> None:
    with lanes_hub(tmp_path, pg_url, redis_url, receiver) as (submit, start, namespace):
        routine = submit_backlog(submit)
        receiver.gate.clear()  # the receiver holds every request: the worker's threads wait
        start()
        queue = redis.Redis.from_url(redis_url)
        normal, urgent_lane = f"{namespace}:{QUEUE_NORMAL}", f"{namespace}:{QUEUE_URGENT}"
        try:
            # the worker has taken its prefetch of routine messages off the broker's queue
            wait_until(lambda: int(queue.llen(normal)) <= BACKLOG - 200, timeout=30,
                       what="the worker to prefetch routine messages",
                       progress=lambda: queue.llen(normal))
            held = BACKLOG - int(queue.llen(normal))
            urgent = submit(BACKLOG, "2")
            # the worker has taken the urgent message too, behind the routine ones it holds
            wait_until(lambda: int(queue.llen(urgent_lane)) == 0, timeout=30,
                       what="the worker to take the urgent message",
                       progress=lambda: queue.llen(urgent_lane))
        finally:
            queue.close()
        receiver.gate.set()
        position = arrival(receiver, urgent, routine)
    print(f"prefetched backlog: {held} routine messages held by the worker; the urgent "
          f"document arrived {position} of {BACKLOG + 1}")
    assert position < min(held, BOUND), (
        f"the urgent document arrived {position}th, behind {position - 1} routine ones")
