"""The production topology as processes: two API processes and a worker on one PostgreSQL
and Redis, started by the `lienthong` command itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.test_worker_crash import directory_file
from tests.support import DEPARTMENT, KEYS, Receiver, body, document, free_port, wait_until

# processes started by the command, on real PostgreSQL and Redis
pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_two_api_processes_and_a_worker_deliver_everything(
        tmp_path: Path, pg_url: str, redis_url: str, receiver: Receiver) -> None:
    port = free_port()
    env = {**os.environ,
           "LIENTHONG_DATABASE_URL": pg_url, "LIENTHONG_REDIS_URL": redis_url,
           "LIENTHONG_DIRECTORY_FILE": str(directory_file(tmp_path, receiver.url)),
           "LIENTHONG_BROKER_NAMESPACE": f"lt-topology-{port}"}
    log = (tmp_path / "processes.log").open("ab")
    api = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--workers", "2",
                            "--port", str(port)], env=env, stdout=log, stderr=log)
    worker = subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"], env=env,
                              stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=60, what="two API processes")
        ids = set()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEYS['province']}",
                                                 "Content-Type": "application/json"}) as c:
            for n in range(40):
                r = c.post("/api/v1/documents", content=body(document(500 + n, to=(DEPARTMENT,))))
                assert r.status_code == 202, r.text
                ids.add(r.json()["id"])
        wait_until(lambda: set(receiver.message_ids("/department")) >= ids, timeout=60,
                   what="every document delivered by the worker process")
        assert len(receiver.message_ids("/department")) == len(ids)
    finally:
        for proc in (api, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (api, worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    served_by = (tmp_path / "processes.log").read_text(errors="replace")
    assert served_by.count("Started server process") == 2, served_by[-2000:]
