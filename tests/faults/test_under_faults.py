"""Proof under faults: documents sent by several senders through two API processes and two
workers, while a worker and an API process are killed with SIGKILL, Redis restarts with
its data lost and PostgreSQL restarts after an immediate shutdown. Every document the hub
accepted reaches every recipient it named; a duplicate only where the attempt that
delivered it never recorded its outcome, with the same hub message id; the audit chain
verifies. The figures go to a report (printed, and JSON under the test's tmp dir).

Size: LIENTHONG_FAULTS_DOCS (default 400), pace LIENTHONG_FAULTS_RATE documents a second
(default: the documents spread over about 25 s). docs/testing.md has a large run's figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.store.db import Database
from security.audit_checkpoints import SigningKey
from tests.faults import ledger
from tests.faults.cluster import PostgresCluster, RedisServer
from tests.faults.procs import recovered, tracebacks
from tests.faults.receivers import FaultShare, Receivers, run_receivers
from tests.faults.scenario import UNITS, Hub, build_hub, documents, hub_env, write_directory
from tests.faults.senders import OUTCOMES, SERVER_ERROR, Doc, Senders
from tests.support import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

DOCS = int(os.environ.get("LIENTHONG_FAULTS_DOCS") or 400)
RATE = float(os.environ.get("LIENTHONG_FAULTS_RATE") or max(10.0, min(60.0, DOCS / 25)))
SENDER_THREADS = 6
# the hub gives up on a receiver after this; a receiver's "timeout" holds a second longer
DELIVERY_TIMEOUT_S = 5.0
# how long Redis and PostgreSQL stay down: an outage of some seconds, not a blink
DOWN_S = 2.0


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    pg = PostgresCluster.create()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer.create(tmp_path / "redis")
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@dataclass
class Window:
    """A fault, from the moment it was injected until what it broke answered again."""

    name: str
    start: float
    end: float = 0.0
    note: str = ""


def kill_worker(hub: Hub) -> str:
    victim = hub.workers[0]
    code = victim.kill()
    victim.start()
    victim.wait_ready()
    return f"{victim.name} exited {code}, started again"


def kill_api(hub: Hub) -> str:
    victim = hub.apis[1]
    code = victim.kill()
    victim.start()
    victim.wait_ready()
    return f"{victim.name} exited {code}, started again"


def restart_redis(hub: Hub, redis: RedisServer) -> str:
    before = redis.run_id()
    redis.kill()
    time.sleep(DOWN_S)  # the outage itself: senders keep sending meanwhile
    redis.start()
    after = redis.run_id()
    assert after != before, "Redis did not restart"
    wait_until(hub.all_ready, timeout=60, what="both API processes ready after Redis restarted")
    return (f"redis-server killed, down {DOWN_S:g} s, started empty "
            f"(run id {before[:8]} -> {after[:8]})")


def restart_postgres(hub: Hub, pg: PostgresCluster) -> str:
    before = pg.started_at()
    pg.stop("immediate")
    time.sleep(DOWN_S)  # the outage itself: senders keep sending meanwhile
    pg.start()
    after = pg.started_at()
    assert after != before, "PostgreSQL did not restart"
    wait_until(hub.all_ready, timeout=60,
               what="both API processes ready after PostgreSQL restarted")
    return (f"pg_ctl stop -m immediate, down {DOWN_S:g} s, start (crash recovery from "
            "the write-ahead log)")


def test_nothing_accepted_is_lost_under_faults(tmp_path: Path, own_postgres: PostgresCluster,
                                               own_redis: RedisServer) -> None:
    postgres, redis = own_postgres, own_redis
    began = time.monotonic()
    docs = documents(DOCS)
    share = FaultShare(error=0.06, timeout=0.02, reset=0.06, hold_s=DELIVERY_TIMEOUT_S + 1)
    # filled as the run goes, and written even when a promise fails, to show how far it got
    report: dict[str, Any] = {"documents": len(docs), "rate_per_s": RATE,
                              "senders": SENDER_THREADS}
    with run_receivers(list(UNITS), share) as receivers:
        directory = write_directory(tmp_path / "directory.yaml", receivers.urls)
        env = hub_env(tmp_path, postgres, redis, directory, DELIVERY_TIMEOUT_S)
        SigningKey.create(tmp_path / "audit-signing.key")  # one key for every process
        hub = build_hub(tmp_path, env)
        db = Database(postgres.url)
        try:
            hub.start()
            report["startup_s"] = round(time.monotonic() - began, 1)
            run_under_faults(hub, postgres, redis, receivers, docs, db, report)
        finally:
            hub.stop()
            db.dispose()
            report["receivers_answered"] = dict(receivers.served)
            report["sweeper_recovered"] = recovered(hub.logs())
            report["tracebacks_logged"] = tracebacks(hub.logs())
            report["total_s"] = round(time.monotonic() - began, 1)
            write_report(report, tmp_path / "faults-report.json")
        report["audit"] = verify_audit(env, tmp_path)
    write_report(report, tmp_path / "faults-report.json", quiet=True)
    print(f"  audit: {report['audit']}")
    assert report["audit"]["ok"], f"the audit chain does not verify: {report['audit']}"


def run_under_faults(hub: Hub, pg: PostgresCluster, redis: RedisServer, receivers: Receivers,
                     docs: list[Doc], db: Database, report: dict[str, Any]) -> None:
    """Send while the faults come, wait for the deliveries, check every promise; the
    figures go into `report` as they are known."""
    report.update({"api_processes": len(hub.apis), "workers": len(hub.workers)})
    senders = Senders([a.url for a in hub.apis], docs, threads=SENDER_THREADS, rate=RATE)
    faults: list[tuple[str, Callable[[], str]]] = [
        ("worker SIGKILL", lambda: kill_worker(hub)),
        ("API process SIGKILL", lambda: kill_api(hub)),
        ("Redis restart, data lost", lambda: restart_redis(hub, redis)),
        ("PostgreSQL immediate shutdown, restart", lambda: restart_postgres(hub, pg)),
    ]
    windows: list[Window] = []
    # document counts at which the faults come: stage n is sent during fault n
    marks = [n * len(docs) // (len(faults) + 1) for n in range(1, len(faults) + 1)]
    senders.start(released=marks[1] if len(marks) > 1 else len(docs))
    sending_s = len(docs) / RATE
    for n, (name, inject) in enumerate(faults):
        wait_until(lambda due=marks[n]: senders.answered() >= due, timeout=sending_s + 120,
                   interval=0.05,
                   what=f"{marks[n]} documents answered before the fault '{name}'",
                   progress=senders.answered)
        window = Window(name, time.monotonic())
        window.note = inject()
        window.end = time.monotonic()
        windows.append(window)
        senders.release(marks[n + 2] if n + 2 < len(marks) else len(docs))
    wait_until(senders.done, timeout=senders.patience_s + sending_s + 60,
               what="every sender to finish", progress=senders.answered)
    sent_at = time.monotonic()

    answers = Counter(a.status for a in senders.answers.values())
    calm = Counter(s.outcome for s in senders.seen
                   if not any(w.start <= s.at <= w.end for w in windows))
    report.update({
        "accepted": len(senders.answers),
        "answered_202": answers[202], "answered_200_duplicate": answers[200],
        "refused": len(senders.refused), "unanswered": len(senders.unanswered),
        "sending_s": round(sent_at - senders.started, 1),
        "faults": [{"fault": w.name, "seconds": round(w.end - w.start, 1), "what": w.note,
                    "senders_saw": every_outcome(senders.seen_between(w.start, w.end))}
                   for w in windows],
        "senders_saw_outside_faults": every_outcome(calm),
        "server_errors": dict(Counter(s.detail for s in senders.seen
                                      if s.outcome == SERVER_ERROR)),
    })
    assert not senders.refused, f"documents refused: {dict(list(senders.refused.items())[:5])}"
    assert not senders.unanswered, (
        f"{len(senders.unanswered)} documents never answered: "
        f"{dict(list(senders.unanswered.items())[:5])}")
    named_wrong = [(d.number, d.to, senders.answers[d.number].recipients) for d in docs
                   if set(senders.answers[d.number].recipients) != set(d.to)]
    assert not named_wrong, f"answers that name other recipients than sent to: {named_wrong[:5]}"

    expected = ledger.owed(docs, senders.answers)
    report["deliveries_owed"] = len(expected)
    try:
        wait_until(lambda: not ledger.missing(expected, receivers.snapshot()),
                   timeout=120 + len(docs) * 0.05, interval=0.2,
                   what=f"all {len(expected)} deliveries",
                   progress=lambda: ledger.describe(
                       ledger.missing(expected, receivers.snapshot()), db))
    finally:
        report["lost"] = len(ledger.missing(expected, receivers.snapshot()))
        report["delivered"] = len(expected) - report["lost"]
    drained_at = ledger.drained_at(expected, receivers.snapshot())
    last_answer = max(a.at for a in senders.answers.values())
    report["time_to_drain_s"] = round(max(0.0, drained_at - last_answer), 1)
    report["drain_after_last_fault_s"] = round(max(0.0, drained_at - windows[-1].end), 1)
    # nothing owed, nothing pending: no later copy can come
    wait_until(lambda: not ledger.unsettled(db), timeout=90, interval=0.2,
               what="every delivery row delivered and the outbox empty",
               progress=lambda: ledger.unsettled(db))

    copies = receivers.snapshot()
    dups, problems = ledger.duplicates(copies, db)
    report.update({
        "copies_received": len(copies),
        "duplicates": len(copies) - len({c.delivery_id for c in copies}),
        "duplicate_deliveries": [
            {"delivery": d.delivery_id, "message": d.message_id, "recipient": d.recipient,
             "attempts": d.attempts, "recorded_ok": d.recorded_ok, "unrecorded": d.unrecorded}
            for d in dups],
    })
    stray = {c.message_id for c in copies} - {o.message_id for o in expected}
    assert not stray, f"copies of messages no sender was answered with: {sorted(stray)[:5]}"
    rows = ledger.delivery_rows(db, {o.message_id for o in expected})
    owed_rows = Counter(o.message_id for o in expected)
    extra = {m: (rows.get(m, 0), n) for m, n in owed_rows.items() if rows.get(m, 0) != n}
    assert not extra, f"messages whose delivery rows differ from their recipients: {extra}"
    assert not problems, "duplicates the at-least-once rule does not excuse:\n" + "\n".join(
        problems[:10])


def every_outcome(counts: Counter[str]) -> dict[str, int]:
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def verify_audit(env: dict[str, str], run: Path) -> dict[str, Any]:
    """`lienthong audit verify --json` against the test's database, as an auditor runs it."""
    done = subprocess.run([sys.executable, "-m", "hub.cli", "audit", "verify", "--json"],
                          env=env, cwd=run, capture_output=True, text=True, timeout=300,
                          check=False)
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "exit": done.returncode, "output": (done.stdout + done.stderr)[-2000:]}
    return {"ok": result["ok"] and done.returncode == 0, "exit": done.returncode,
            "events": result["events"], "checkpoints": result["checkpoints"]["verified"],
            "breaks": result["breaks"][:5], "notes": result["notes"]}


def write_report(report: dict[str, Any], path: Path, quiet: bool = False) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    if quiet:
        return
    print(f"\nfault test report ({path})")
    for key, value in report.items():
        if key not in ("duplicate_deliveries", "faults"):
            print(f"  {key}: {value}")
    for fault in report.get("faults", []):
        print(f"  fault '{fault['fault']}' ({fault['seconds']} s; {fault['what']}): "
              f"senders saw {fault['senders_saw']}")
    for dup in report.get("duplicate_deliveries", []):
        print(f"  duplicate: {dup}")
