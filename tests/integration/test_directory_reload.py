"""The directory changes under a running hub and submissions follow without a restart:
a new system and unit, a unit retired to a successor, a new alias, a broken file that
changes nothing; the admin endpoint's roles, answer and audit; another process told over
Redis; and SIGHUP to a real `lienthong serve`."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from core.settings import Settings
from hub.context import HubContext
from security import people
from security.audit_tables import AuditEvent
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    events_after,
    free_port,
    holds_for,
    hue_directory_data,
    key_hash,
    last_seq,
    run_hub,
    run_receiver,
    wait_until,
    write_directory,
)

pytestmark = pytest.mark.integration

NEW_UNIT, NEW_COMMUNE, ALIAS = "000.00.07.H57", "000.02.21.H57", "000.00.99.H57"
FAST = {"min_backoff_ms": 50, "max_backoff_ms": 100, "max_attempts": 3, "timeout_s": 5.0,
        "sweep_interval_s": 0.5, "lease_s": 5.0, "worker_threads": 4}


def submit(hub: LiveHub, key: str, doc: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/documents", content=body(doc), timeout=30,
                      headers={"Authorization": f"Bearer {key}",
                               "Content-Type": "application/json"})


def at(receiver: Receiver, path: str, message_id: str) -> bool:
    return message_id in receiver.message_ids(path)


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[tuple[LiveHub, Receiver, Path]]:
    file = tmp_path / "directory.yaml"
    with run_receiver() as receiver:
        write_directory(file, hue_directory_data(receiver.url))
        settings = Settings(database_url=pg_url, directory_file=file, delivery=FAST,
                            directory_watch_interval_s=0.2, rate_limits={"enabled": False},
                            broker_namespace=f"lt-reload-{pg_url[-12:]}")
        with run_hub(settings, None) as hub:
            yield hub, receiver, file


def test_submissions_follow_directory_changes_without_a_restart(
    world: tuple[LiveHub, Receiver, Path]
) -> None:
    hub, receiver, file = world
    data = hue_directory_data(receiver.url)
    new_key = "key-new-system"
    # before: the new system's key is unknown, the new unit and the alias too
    assert submit(hub, new_key, document(1, sender=NEW_UNIT, to=(DEPARTMENT,))
                  ).status_code == 401
    assert submit(hub, KEYS["province"], document(2, to=(ALIAS,))).status_code == 422

    changed = copy.deepcopy(data)
    changed["organizations"] += [
        {"code": NEW_UNIT, "name": "Sở Tài chính", "level": "department", "parent": PROVINCE},
        {"code": NEW_COMMUNE, "name": "UBND xã Phong Thu mới", "level": "commune",
         "parent": PROVINCE},
    ]
    for org in changed["organizations"]:
        if org["code"] == DEPARTMENT:
            org["aliases"] = [ALIAS]
        if org["code"] == COMMUNE:  # merged into a new commune: retired, with a successor
            org["successor"] = NEW_COMMUNE
    for system in changed["systems"]:
        if system["id"] == "commune":
            system["organizations"] = [NEW_COMMUNE]
    changed["systems"].append(
        {"id": "taichinh", "organizations": [NEW_UNIT], "api_key_hashes": [key_hash(new_key)],
         "receive": {"mode": "push", "url": f"{receiver.url}/taichinh"}})
    sha = write_directory(file, changed)
    wait_until(lambda: hub.ctx.routing.latest().sha256 == sha, timeout=10,
               what="the file watch to reload the directory")

    # a new system sends with its key, and receives by push (a new egress destination)
    r = submit(hub, new_key, document(3, sender=NEW_UNIT, to=(DEPARTMENT,)))
    assert r.status_code == 202, r.text
    wait_until(lambda: at(receiver, "/department", r.json()["id"]), what="its delivery")
    r = submit(hub, KEYS["province"], document(4, to=(NEW_UNIT,)))
    assert r.status_code == 202, r.text
    wait_until(lambda: at(receiver, "/taichinh", r.json()["id"]),
               what="a delivery to the new system")
    # an old code retired by the reload reaches its successor; a new alias its unit
    r = submit(hub, KEYS["province"], document(5, to=(COMMUNE, ALIAS)))
    assert r.status_code == 202, r.text
    assert sorted(r.json()["recipients"]) == sorted([NEW_COMMUNE, DEPARTMENT])
    wait_until(lambda: at(receiver, "/commune", r.json()["id"])
               and at(receiver, "/department", r.json()["id"]), what="successor and alias")

    # a broken file changes nothing, and is said once, however often the watch looks
    before = last_seq(hub)
    good = hub.ctx.routing.latest()
    (file.parent / "broken.tmp").write_text("organizations: [{code: 1}\n", encoding="utf-8")
    os.replace(file.parent / "broken.tmp", file)
    wait_until(lambda: [e for e in events_after(hub, before)
                        if e["event"] == "directory.reload_failed"],
               timeout=10, what="the failed reload in the audit trail")
    holds_for(lambda: len([e for e in events_after(hub, before)
                           if e["event"] == "directory.reload_failed"]) == 1, 1.0,
              what="one audit event for one bad file")
    failed = next(e for e in events_after(hub, before) if e["event"] == "directory.reload_failed")
    assert failed["trigger"] == "watch" and failed["current_sha256"] == sha
    assert "invalid" in failed["reason"] or "cannot read" in failed["reason"]
    assert hub.ctx.routing.latest() is good
    r = submit(hub, new_key, document(6, sender=NEW_UNIT, to=(COMMUNE,)))
    assert r.status_code == 202, r.text
    wait_until(lambda: at(receiver, "/commune", r.json()["id"]), what="delivery under the "
               "directory still in force")

    reloaded = [e for e in events_after(hub, 0) if e["event"] == "directory.reloaded"]
    assert [(e["trigger"], e["sha256"], e["organizations"], e["systems"])
            for e in reloaded] == [("watch", sha, {"added": 2, "removed": 0, "changed": 2},
                                    {"added": 1, "removed": 0, "changed": 1})]


def test_deliveries_already_stored_keep_their_system(
    world: tuple[LiveHub, Receiver, Path]
) -> None:
    hub, receiver, file = world
    receiver.gate.clear()  # the department's receiver holds the first attempt ...
    receiver.fail("/department", 503)  # ... then fails it: the retry runs after the reload
    r = submit(hub, KEYS["province"], document(10, to=(DEPARTMENT,)))
    assert r.status_code == 202, r.text
    data = hue_directory_data(receiver.url)
    for system in data["systems"]:  # the department moves to another system
        if system["id"] == "department":
            system["organizations"] = []
        if system["id"] == "other":
            system["organizations"] = ["000.00.05.H57", DEPARTMENT]
    sha = write_directory(file, data)
    wait_until(lambda: hub.ctx.routing.latest().sha256 == sha, timeout=10, what="the reload")
    receiver.gate.set()
    wait_until(lambda: at(receiver, "/department", r.json()["id"]),
               what="the stored delivery, to the system it was made for")
    later = submit(hub, KEYS["province"], document(11, to=(DEPARTMENT,)))
    assert later.status_code == 202
    view = httpx.get(f"{hub.url}/api/v1/messages/{later.json()['id']}", timeout=30,
                     headers={"Authorization": f"Bearer {KEYS['province']}"}).json()
    assert [d["system"] for d in view["deliveries"]] == ["other"]


def _tokens(hub: LiveHub) -> dict[str, str]:
    with hub.ctx.db.transaction() as session:
        return {role: people.add(session, role[:3] + "-x", role, actor="cli:test", days=1).token
                for role in ("operator", "admin")}


def test_the_admin_endpoint_reloads_answers_what_changed_and_is_audited(
    world: tuple[LiveHub, Receiver, Path]
) -> None:
    hub, receiver, file = world
    reloader = hub.ctx.reloader
    assert reloader is not None
    reloader.stop()  # the endpoint alone, not the watch
    tokens = _tokens(hub)
    url = f"{hub.url}/api/v1/admin/reload"
    old = hub.ctx.routing.latest().sha256
    data = hue_directory_data(receiver.url)
    data["organizations"].append({"code": NEW_UNIT, "name": "Sở Tài chính",
                                  "level": "department", "parent": PROVINCE})
    data["organizations"] = [o for o in data["organizations"] if o["code"] != "000.00.05.H57"]
    data["systems"] = [s for s in data["systems"] if s["id"] != "other"]
    sha = write_directory(file, data)

    refused = httpx.post(url, headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden")
    assert hub.ctx.routing.latest().sha256 == old

    before = last_seq(hub)
    r = httpx.post(url, headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=30)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["status"], answer["old_sha256"], answer["sha256"]) == ("reloaded", old, sha)
    assert answer["organizations"] == {"added": 1, "removed": 1, "changed": 0}
    assert answer["systems"] == {"added": 0, "removed": 1, "changed": 0}
    assert submit(hub, KEYS["other"], document(20, sender="000.00.05.H57")).status_code == 401
    [event] = [e for e in events_after(hub, before) if e["event"].startswith("directory.")]
    assert (event["event"], event["actor"], event["old_sha256"], event["sha256"]) == (
        "directory.reloaded", "person:adm-x", old, sha)

    file.write_text("systems: [{id: x, organizations: [nowhere]}]\n", encoding="utf-8")
    before = last_seq(hub)
    bad = httpx.post(url, headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=30)
    assert (bad.status_code, bad.json()["code"]) == (422, "directory_invalid")
    assert "nowhere" in bad.json()["detail"] and bad.json()["detail_vi"]
    assert hub.ctx.routing.latest().sha256 == sha
    assert [(e["event"], e["actor"]) for e in events_after(hub, before)] == [
        ("directory.reload_failed", "person:adm-x")]


def test_routing_rules_reload_with_the_directory_and_a_bad_rules_file_changes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    file, rules = tmp_path / "directory.yaml", tmp_path / "rules.yaml"
    rules.write_text("rules: []\n", encoding="utf-8")
    secret = document(30, to=(DEPARTMENT,),
                      code={"codeNumber": "30", "codeNotation": "QĐ-MAT"})
    with run_receiver() as receiver:
        write_directory(file, hue_directory_data(receiver.url))
        settings = Settings(database_url=pg_url, directory_file=file, delivery=FAST,
                            directory_watch_interval_s=0.2, rate_limits={"enabled": False},
                            routing={"rules_file": str(rules)},
                            broker_namespace=f"lt-rules-{pg_url[-12:]}")
        with run_hub(settings, None) as hub:
            assert submit(hub, KEYS["province"], secret).status_code == 202
            refuse = {"rules": [{"name": "no-secrets", "when": {"notation": {"regex": "-MAT$"}},
                                 "refuse": {"code": "secret_not_carried",
                                            "message_en": "Secret documents stay out",
                                            "message_vi": "Văn bản mật không gửi qua trục"}}]}
            start = last_seq(hub)
            sha = write_directory(rules, refuse)
            wait_until(lambda: hub.ctx.routing.latest().rules_sha256 == sha, timeout=10,
                       what="the file watch to reload the routing rules")
            again = document(31, to=(DEPARTMENT,),
                             code={"codeNumber": "31", "codeNotation": "QĐ-MAT"})
            r = submit(hub, KEYS["province"], again)
            assert (r.status_code, r.json()["code"]) == (422, "secret_not_carried"), r.text
            [event] = [e for e in events_after(hub, start) if e["event"] == "directory.reloaded"]
            assert (event["rules_sha256"], event["trigger"]) == (sha, "watch")

            # a rule naming a unit the directory lacks: the whole reload is refused, the
            # rules in force stay, and the refusal is audited once
            before = last_seq(hub)
            write_directory(rules, {"rules": [{"name": "archive", "copy_to": ["000.00.97.H57"]}]})
            wait_until(lambda: configured(hub, before) == ["directory.reload_failed"],
                       timeout=10, what="the refused rules file audited")
            assert hub.ctx.routing.latest().rules_sha256 == sha
            third = document(32, to=(DEPARTMENT,),
                             code={"codeNumber": "32", "codeNotation": "QĐ-MAT"})
            assert submit(hub, KEYS["province"], third).json()["code"] == "secret_not_carried"
            holds_for(lambda: configured(hub, before) == ["directory.reload_failed"],
                      seconds=1.0, what="the refusal audited once")


def configured(hub: LiveHub, seq: int) -> list[str]:
    """The reload events after `seq`."""
    return [e["event"] for e in events_after(hub, seq) if e["event"].startswith("directory.")]


def test_a_reload_through_one_process_reaches_the_others_over_redis(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "directory.yaml"
    with run_receiver() as receiver:
        data = hue_directory_data(receiver.url)
        write_directory(file, data)
        settings = Settings(database_url=pg_url, redis_url=redis_url, directory_file=file,
                            directory_watch_interval_s=0,  # no watch: the notice alone
                            broker_namespace=f"lt-reload-{pg_url[-12:]}")
        other = HubContext.build(settings)
        other.start_reloader()
        try:
            with run_hub(settings, None) as hub:
                tokens = _tokens(hub)
                wait_until(lambda: _listeners(redis_url, settings) == 2, timeout=10,
                           what="both processes listening for notices")
                data["organizations"].append({"code": NEW_UNIT, "name": "Sở Tài chính",
                                              "level": "department", "parent": PROVINCE})
                sha = write_directory(file, data)
                r = httpx.post(f"{hub.url}/api/v1/admin/reload", timeout=30,
                               headers={"Authorization": f"Bearer {tokens['admin']}"})
                assert r.status_code == 200 and r.json()["sha256"] == sha, r.text
                wait_until(lambda: other.routing.latest().sha256 == sha, timeout=10,
                           what="the other process to reload on the notice")
                assert other.directory.knows(NEW_UNIT)

                def triggers() -> list[str]:
                    return sorted(e["trigger"] for e in events_after(hub, 0)
                                  if e["event"] == "directory.reloaded")

                wait_until(lambda: triggers() == ["admin", "notice"], timeout=10,
                           what="both reloads in the audit trail", progress=triggers)
        finally:
            other.close()


def test_every_process_picks_a_changed_file_up_by_itself(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Production: API processes and workers on PostgreSQL and Redis, each watching the
    file; each reloads and says so in the audit trail."""
    file = tmp_path / "directory.yaml"
    with run_receiver() as receiver:
        data = hue_directory_data(receiver.url)
        write_directory(file, data)
        settings = Settings(database_url=pg_url, redis_url=redis_url, directory_file=file,
                            directory_watch_interval_s=0.2,
                            broker_namespace=f"lt-watch-{pg_url[-12:]}")
        processes = [HubContext.build(settings) for _ in range(3)]
        try:
            for ctx in processes:
                ctx.start_reloader()
            data["organizations"].append({"code": NEW_UNIT, "name": "Sở Tài chính",
                                          "level": "department", "parent": PROVINCE})
            sha = write_directory(file, data)
            wait_until(lambda: all(p.routing.latest().sha256 == sha for p in processes),
                       timeout=10, what="every process to reload the file")

            def reloads() -> list[tuple[str, str]]:
                with processes[0].db.reading() as session:
                    return [(d["trigger"], d["sha256"]) for d in (
                        json.loads(r.detail) for r in session.execute(select(AuditEvent).where(
                            AuditEvent.event == "directory.reloaded")).scalars())]

            # each records its reload just after taking it
            wait_until(lambda: len(reloads()) >= 3, timeout=10, what="three audit events")
            holds_for(lambda: len(reloads()) == 3, 0.5, what="one event per process")
            assert reloads() == [("watch", sha)] * 3
        finally:
            for ctx in processes:
                ctx.close()


def _listeners(redis_url: str, settings: Settings) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        channel = f"{settings.broker_namespace}:directory"
        return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
    finally:
        client.close()


def test_sighup_reloads_a_running_serve(pg_url: str, tmp_path: Path) -> None:
    with run_receiver() as receiver:
        file = tmp_path / "directory.yaml"
        data = hue_directory_data(receiver.url)
        write_directory(file, data)
        config = tmp_path / "lienthong.yaml"
        config.write_text(yaml.safe_dump({
            "database_url": pg_url, "directory_file": str(file),
            "directory_watch_interval_s": 0, "audit": {
                "signing_key_file": str(tmp_path / "audit.key")}}), encoding="utf-8")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--config", str(config),
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "LIENTHONG_CONFIG": ""})
        url = f"http://127.0.0.1:{port}/api/v1/organizations"
        auth = {"Authorization": f"Bearer {KEYS['province']}"}

        def codes() -> set[str]:
            try:
                r = httpx.get(url, headers=auth, timeout=5)
            except httpx.TransportError:
                return set()
            return {o["code"] for o in r.json()["items"]} if r.status_code == 200 else set()

        try:
            wait_until(lambda: codes(), timeout=60, what="lienthong serve to answer")
            assert NEW_UNIT not in codes()
            data["organizations"].append({"code": NEW_UNIT, "name": "Sở Tài chính",
                                          "level": "department", "parent": PROVINCE})
            write_directory(file, data)
            holds_for(lambda: NEW_UNIT not in codes(), 1.0, what="no reload without a signal")
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: NEW_UNIT in codes(), timeout=15, what="the reload on SIGHUP")
            assert proc.poll() is None, "the server survives SIGHUP"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
