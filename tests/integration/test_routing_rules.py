"""Routing rules over REST with real PostgreSQL and Redis: an archive copy is delivered and
recorded as the rule's; a refusal is answered with its code, audited, and stores nothing; a
`via` rule delivers a recipient outside the province through the named system; a bad rules
file stops the hub naming the rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from hub.context import HubContext
from hub.store.models import Message
from routing.directory import Directory, Organization, System
from routing.rules import RulesError
from tests.soap_support import zeep_client
from tests.support import (
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    events_after,
    hue_directory,
    last_seq,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration

ARCHIVE, OUTSIDE = "000.00.98.H57", "000.00.00.H41"
RULES = [
    {"name": "archive-decisions", "when": {"kind": "document", "document_type": ["Quyết định"]},
     "copy_to": [ARCHIVE]},
    {"name": "national-platform", "when": {"recipient_outside": True}, "via": "vdxp"},
    {"name": "no-secret-documents", "when": {"notation": {"regex": "-MAT$"}},
     "refuse": {"code": "secret_not_carried",
                "message_en": "Secret documents do not travel through the hub",
                "message_vi": "Văn bản mật không gửi qua trục liên thông"}},
]


def directory(receiver_url: str) -> Directory:
    """The Huế test directory with an archive unit and the national platform's system."""
    base = hue_directory(receiver_url)
    archive = Organization(code=ARCHIVE, name="Trung tâm Lưu trữ lịch sử", level="department",
                           parent="000.00.00.H57")
    systems = [*base.systems(),
               System(id="archive", organizations=(ARCHIVE,),
                      receive={"mode": "push", "url": f"{receiver_url}/archive"}),
               System(id="vdxp", name="Trục liên thông văn bản quốc gia", organizations=(),
                      receive={"mode": "push", "url": f"{receiver_url}/vdxp"})]
    return Directory([*base.organizations(), archive], systems)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": RULES}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def settings(make_settings, pg_url: str, redis_url: str, rules_file: Path) -> Any:
    return make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                         routing={"rules_file": str(rules_file)})


@pytest.fixture
def hub(settings: Any, receiver: Receiver) -> Iterator[LiveHub]:
    with run_hub(settings, directory(receiver.url)) as live:
        yield live


def post(hub: LiveHub, doc: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/documents", content=body(doc), timeout=30,
                      headers={"Authorization": f"Bearer {KEYS['province']}",
                               "Content-Type": "application/json"})


def record(hub: LiveHub, message_id: str) -> dict[str, Any]:
    r = httpx.get(f"{hub.url}/api/v1/messages/{message_id}", timeout=30,
                  headers={"Authorization": f"Bearer {KEYS['province']}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def arrived(receiver: Receiver) -> Counter[tuple[str, str]]:
    with receiver.lock:
        return Counter((r.path, r.headers.get("X-Lienthong-Recipient", ""))
                       for r in receiver.received)


def messages(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_an_archive_copy_is_delivered_and_recorded_as_the_rules(
        hub: LiveHub, receiver: Receiver) -> None:
    r = post(hub, document(401, to=(DEPARTMENT,)))  # a Quyết định
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["recipients"] == [DEPARTMENT, ARCHIVE]
    assert answer["deliveries"] == [
        {"recipient": DEPARTMENT, "status": "new"},
        {"recipient": ARCHIVE, "status": "new", "rule": "archive-decisions"}]
    wait_until(lambda: arrived(receiver) == Counter({("/department", DEPARTMENT): 1,
                                                     ("/archive", ARCHIVE): 1}),
               what="the document and its archive copy", progress=lambda: arrived(receiver))
    rules = {d["recipient"]: d["rule"] for d in record(hub, answer["id"])["deliveries"]}
    assert rules == {DEPARTMENT: None, ARCHIVE: "archive-decisions"}
    client = zeep_client(hub.url, "province", KEYS["province"])
    trace = client.service.GetTrace(MessageId=answer["id"])
    assert {d.Recipient: d.Rule for d in trace.Delivery} == rules

    # a letter is not a decision: no copy
    letter = post(hub, document(402, to=(DEPARTMENT,),
                                documentType={"type": "1", "typeName": "Công văn"}))
    assert letter.status_code == 202, letter.text
    assert letter.json()["recipients"] == [DEPARTMENT]


def test_a_refusal_rule_answers_its_code_is_audited_and_stores_nothing(hub: LiveHub) -> None:
    seq = last_seq(hub)
    doc = document(403, to=(DEPARTMENT,), code={"codeNumber": "403", "codeNotation": "QĐ-MAT"})
    r = post(hub, doc)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "secret_not_carried"
    assert "Secret documents do not travel through the hub" in problem["detail"]
    assert "no-secret-documents" in problem["detail"]
    assert "Văn bản mật không gửi qua trục liên thông" in problem["detail_vi"]
    assert messages(hub) == 0
    [event] = [e for e in events_after(hub, seq) if e["event"] == "message.rejected"]
    assert (event["code"], event["rule"], event["status"]) == (
        "secret_not_carried", "no-secret-documents", 422)
    assert event["actor"] == "province"


def test_a_via_rule_delivers_outside_recipients_through_the_named_system(
        hub: LiveHub, receiver: Receiver) -> None:
    doc = document(404, to=(DISTRICT, OUTSIDE),
                   documentType={"type": "1", "typeName": "Công văn"})
    r = post(hub, doc)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["deliveries"] == [
        {"recipient": DISTRICT, "status": "new"},
        {"recipient": OUTSIDE, "status": "new", "rule": "national-platform", "via": "vdxp"}]
    wait_until(lambda: arrived(receiver) == Counter({("/vdxp", OUTSIDE): 1}),
               what="the delivery through the national platform",
               progress=lambda: arrived(receiver))
    [outside] = [d for d in record(hub, answer["id"])["deliveries"] if d["recipient"] == OUTSIDE]
    assert (outside["system"], outside["rule"], outside["state"]) == (
        "vdxp", "national-platform", "delivered")


def test_without_the_via_rule_the_outside_recipient_is_unknown(
        make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> None:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, directory(receiver.url)) as hub:
        r = post(hub, document(405, to=(DISTRICT, OUTSIDE)))
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "unknown_recipient"
        assert [e["path"] for e in r.json()["errors"]] == ["/to/1/organId"]


def test_a_bad_rules_file_stops_the_hub_naming_the_rule(
        make_settings, pg_url: str, redis_url: str, tmp_path: Path, receiver: Receiver) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"rules": [RULES[0], {"name": "late", "when": {
        "priority": {"min": "urgent"}}, "via": "vdxp"}]}), encoding="utf-8")
    settings = make_settings(database_url=pg_url, redis_url=redis_url,
                             routing={"rules_file": str(path)})
    with pytest.raises(RulesError) as info:
        HubContext.build(settings, directory=directory(receiver.url))
    assert str(path) in info.value.detail
    assert "rule 2 ('late'), when.priority" in info.value.detail
    # a rule that does not fit the directory stops it too
    path.write_text(yaml.safe_dump({"rules": [{"name": "lost", "via": "nowhere"}]}),
                    encoding="utf-8")
    with pytest.raises(RulesError, match="rule 'lost': via system nowhere"):
        HubContext.build(settings, directory=directory(receiver.url))
