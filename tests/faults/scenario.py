"""The fault test's province: a directory of several systems, their documents, and the hub's
processes wired to the test's own PostgreSQL and Redis."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from routing.directory import Directory
from tests.faults.cluster import PostgresCluster, RedisServer
from tests.faults.procs import ApiProcess, WorkerProcess, api, worker
from tests.faults.senders import Doc
from tests.support import body, document, free_port, key_hash

# system id -> (organisation, level, name); each system serves one organisation
UNITS = {
    "province": ("000.00.00.H57", "province", "UBND thành phố Huế"),
    "noivu": ("000.00.02.H57", "department", "Sở Nội vụ"),
    "yte": ("000.00.05.H57", "department", "Sở Y tế"),
    "giaoduc": ("000.00.07.H57", "department", "Sở Giáo dục và Đào tạo"),
    "phongdien": ("000.00.21.H57", "district", "UBND huyện Phong Điền"),
    "phuvang": ("000.00.22.H57", "district", "UBND huyện Phú Vang"),
    "phongthu": ("000.01.21.H57", "commune", "UBND xã Phong Thu"),
    "phonghien": ("000.02.21.H57", "commune", "UBND xã Phong Hiền"),
}
SENDERS = ("province", "noivu", "phongdien", "phongthu")
# one receiver takes edXML, the others the JSON form: both renderings are exercised
EDXML_RECEIVERS = {"yte"}


def key_of(system: str) -> str:
    return f"key-faults-{system}"


def directory_data(urls: dict[str, str]) -> dict[str, Any]:
    """Every unit pushes to its own receiver (`urls[system]`)."""
    province = UNITS["province"][0]
    orgs = []
    for code, level, name in UNITS.values():
        org: dict[str, Any] = {"code": code, "name": name, "level": level}
        if level == "commune":
            org["parent"] = "000.00.21.H57"
        elif level != "province":
            org["parent"] = province
        orgs.append(org)
    systems = [{
        "id": system, "organizations": [code], "api_key_hashes": [key_hash(key_of(system))],
        "receive": {"mode": "push", "url": urls[system],
                    "format": "edxml" if system in EDXML_RECEIVERS else "json"},
    } for system, (code, _level, _name) in UNITS.items()]
    data = {"organizations": orgs, "systems": systems}
    Directory.from_dict(data)  # refuse a broken directory here, not in four processes
    return data


def documents(count: int, seed: int = 30) -> list[Doc]:
    """`count` documents from the sending systems, each to 2-4 other units."""
    rng = random.Random(seed)
    docs = []
    for n in range(count):
        system = SENDERS[n % len(SENDERS)]
        sender = UNITS[system][0]
        others = [code for s, (code, _l, _n) in UNITS.items() if s != system]
        to = tuple(rng.sample(others, rng.randint(2, 4)))
        number = 10_000 + n
        doc = document(number, to=to, sender=sender, subject=f"Văn bản thử chịu lỗi số {number}")
        doc["from"]["organName"] = UNITS[system][2]
        docs.append(Doc(n, system, key_of(system), sender, to, doc["documentId"], body(doc)))
    return docs


@dataclass
class Hub:
    """Two API processes and two workers sharing the test's PostgreSQL and Redis."""

    env: dict[str, str]
    apis: list[ApiProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def processes(self) -> list[ApiProcess | WorkerProcess]:
        return [*self.apis, *self.workers]

    def start(self) -> None:
        """All at once, as an operator's supervisor would: each migrates the empty database
        at start-up, serialised by the hub's advisory lock."""
        for proc in self.processes:
            proc.start()
        for proc in self.processes:
            proc.wait_ready()

    def all_ready(self) -> bool:
        return all(p.ready() for p in self.apis)

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()  # all at once: they finish their work side by side
        for proc in self.processes:
            proc.stop()

    def logs(self) -> list[Path]:
        return [p.log for p in self.processes]


def hub_env(run: Path, pg: PostgresCluster, redis: RedisServer, directory: Path,
            timeout_s: float) -> dict[str, str]:
    """The processes' environment: production mode on the test's servers. Delivery keeps
    the shipped leases, sweep interval and attempt limit (what recovery is promised with);
    only the backoff is short, since the receivers fail a share of attempts on purpose."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update({
        "LIENTHONG_DATABASE_URL": pg.url,
        "LIENTHONG_REDIS_URL": redis.url,
        "LIENTHONG_DIRECTORY_FILE": str(directory),
        "LIENTHONG_BROKER_NAMESPACE": "lt-faults",
        "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(run / "audit-signing.key"),
        "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(run / "audit-checkpoints.jsonl"),
        "LIENTHONG_DELIVERY__TIMEOUT_S": str(timeout_s),
        "LIENTHONG_DELIVERY__MIN_BACKOFF_MS": "250",
        "LIENTHONG_DELIVERY__MAX_BACKOFF_MS": "2000",
    })
    return env


def build_hub(run: Path, env: dict[str, str]) -> Hub:
    hub = Hub(env)
    hub.apis = [api(f"api-{n}", free_port(), env, run) for n in (1, 2)]
    hub.workers = [worker(f"worker-{n}", env, run) for n in (1, 2)]
    return hub


def write_directory(path: Path, urls: dict[str, str]) -> Path:
    path.write_text(yaml.safe_dump(directory_data(urls), allow_unicode=True), encoding="utf-8")
    return path
