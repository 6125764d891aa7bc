"""The national platform both ways, against a fake platform on loopback, with real PostgreSQL
and Redis: a document for a unit outside the province is uploaded, signed, to the platform; a
document and a status the platform holds reach the provincial system, trace and all, and are
acknowledged `done` only once stored; a package the hub refuses is acknowledged `fail` with
the reason and audited; an outage of the platform is retried without loss or doubles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select, text

from hub.polling import ADVISORY_LOCK
from hub.store.models import Message
from routing.directory import Directory, System
from schemas.mapping import edxml_to_json, json_to_edxml
from tests.support import (
    DEPARTMENT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    events_after,
    holds_for,
    hue_directory,
    last_seq,
    run_hub,
    status,
    wait_until,
)
from tests.vdxp_platform import PLATFORM_ID, PLATFORM_SECRET, SECRET_ENV, Platform, run_platform

pytestmark = pytest.mark.integration

OUTSIDE = "000.00.00.H41"  # a unit of another province, not in the directory
RULES = [{"name": "national-platform", "when": {"recipient_outside": True}, "via": "vdxp"}]


def directory(receiver_url: str, platform_url: str) -> Directory:
    base = hue_directory(receiver_url)
    vdxp = System(id="vdxp", name="Trục liên thông văn bản quốc gia", organizations=(),
                  sends={"outside": True},
                  receive={"mode": "push", "adapter": "vdxp", "url": platform_url,
                           "format": "edxml", "poll_interval_s": 0.2,
                           "options": {"system_id": PLATFORM_ID, "secret_env": SECRET_ENV}})
    return Directory(base.organizations(), [*base.systems(), vdxp])


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv(SECRET_ENV, PLATFORM_SECRET)
    with run_platform() as p:
        yield p


@pytest.fixture
def hub(make_settings: Any, pg_url: str, redis_url: str, tmp_path: Path, receiver: Receiver,
        platform: Platform) -> Iterator[LiveHub]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": RULES}), encoding="utf-8")
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                             routing={"rules_file": str(rules)}, polling={"tick_s": 0.05})
    with run_hub(settings, directory(receiver.url, platform.url)) as live:
        yield live


def post(hub: LiveHub, path: str, package: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/{path}", content=body(package), timeout=30,
                      headers={"Authorization": f"Bearer {KEYS[key]}",
                               "Content-Type": "application/json"})


def record(hub: LiveHub, message_id: str) -> dict[str, Any]:
    r = httpx.get(f"{hub.url}/api/v1/messages/{message_id}", timeout=30,
                  headers={"Authorization": f"Bearer {KEYS['department']}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def from_outside(number: int, to: tuple[str, ...] = (DEPARTMENT,)) -> bytes:
    """An edXML document of the other province, with its own trace hop."""
    return json_to_edxml(document(number, to=to, sender=OUTSIDE, traceHeaderList={
        "traceHeaders": [{"organId": OUTSIDE, "timestamp": "2026/11/27 08:00:00"}]}))


def messages(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_a_document_for_an_outside_unit_is_uploaded_signed_to_the_platform(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    hop = {"organId": PROVINCE, "timestamp": "2026/11/27 09:00:00"}
    r = post(hub, "documents", document(501, to=(OUTSIDE, DEPARTMENT),
                                        traceHeaderList={"traceHeaders": [hop]}), "province")
    assert r.status_code == 202, r.text
    assert {"recipient": OUTSIDE, "status": "new", "rule": "national-platform",
            "via": "vdxp"} in r.json()["deliveries"]
    wait_until(lambda: len(platform.sent) == 1, what="the upload to the platform")
    sent = platform.sent[0]
    # signed with the system's secret: the platform checked it, or it would have said 401
    assert sent.headers["from"] == PROVINCE
    assert sent.headers["messagetype"] == "edoc"
    package = edxml_to_json(sent.edxml)
    assert package["documentId"] == document(501)["documentId"]
    assert [t["organId"] for t in package["to"]] == [OUTSIDE, DEPARTMENT]
    assert package["traceHeaderList"]["traceHeaders"] == [hop]  # the trace travels on
    wait_until(lambda: receiver.at("/department"), what="the provincial copy")
    holds_for(lambda: len(platform.sent) == 1, 0.5, what="one upload only")


def test_a_document_from_the_platform_reaches_the_provincial_system_with_its_trace(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    seq = last_seq(hub)
    item = platform.offer(from_outside(502), sender=OUTSIDE)
    wait_until(lambda: receiver.at("/department"), what="the document at the department")
    got = receiver.at("/department")[0]
    assert got.headers["X-Lienthong-Sender"] == OUTSIDE
    delivered = json.loads(got.body)
    assert delivered["traceHeaderList"]["traceHeaders"][0]["organId"] == OUTSIDE
    wait_until(lambda: platform.item(item).ack == "done", what="the transport receipt")
    message_id = got.headers["X-Lienthong-Message-Id"]
    view = record(hub, message_id)
    assert view["channel"] == "poll"
    assert {"organId": OUTSIDE, "source": "package"}.items() <= view["trace"][0].items()
    received = [e for e in events_after(hub, seq) if e["event"] == "message.received"]
    assert [e["actor"] for e in received] == ["vdxp"]
    holds_for(lambda: len(receiver.at("/department")) == 1, 0.5, what="one delivery only")


def test_statuses_go_out_to_the_platform_and_come_back_to_the_original_sender(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    # a document out, and the outside unit's status for it back
    out = document(503, to=(OUTSIDE,))
    assert post(hub, "documents", out, "province").status_code == 202
    wait_until(lambda: len(platform.sent) == 1, what="the upload")
    answer = json_to_edxml(status(out["documentId"], OUTSIDE, PROVINCE, "03"))
    item = platform.offer(answer, "status", sender=OUTSIDE)
    wait_until(lambda: receiver.at("/province"), what="the status at the original sender")
    got = receiver.at("/province")[0]
    assert got.headers["X-Lienthong-Kind"] == "status"
    assert json.loads(got.body)["statusCode"] == "03"
    wait_until(lambda: platform.item(item).ack == "done", what="the transport receipt")
    # a document in, and the department's status for it out
    platform.offer(from_outside(504), sender=OUTSIDE)
    wait_until(lambda: receiver.at("/department"), what="the document at the department")
    incoming = json.loads(receiver.at("/department")[0].body)
    r = post(hub, "statuses", status(incoming["documentId"], DEPARTMENT, OUTSIDE, "01"),
             "department")
    assert r.status_code == 202, r.text
    wait_until(lambda: len(platform.sent) == 2, what="the status uploaded")
    assert platform.sent[1].headers["messagetype"] == "status"
    assert edxml_to_json(platform.sent[1].edxml)["statusCode"] == "01"


def test_a_package_the_hub_refuses_is_acknowledged_fail_with_the_reason(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    seq = last_seq(hub)
    # the platform cannot speak for a unit of the province
    forged = json_to_edxml(document(505, to=(DEPARTMENT,), sender=PROVINCE))
    item = platform.offer(forged, sender=PROVINCE)
    wait_until(lambda: platform.item(item).ack == "fail", what="the failure receipt")
    assert platform.item(item).reason.startswith("sender_not_served")
    refused = [e for e in events_after(hub, seq) if e["event"] == "message.rejected"]
    assert [(e["actor"], e["channel"], e["code"]) for e in refused] == [
        ("vdxp", "poll", "sender_not_served")]
    assert messages(hub) == 0
    assert receiver.at("/department") == []


def test_a_platform_outage_is_retried_without_loss_or_doubles(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    platform.down = True
    item = platform.offer(from_outside(506), sender=OUTSIDE)
    r = post(hub, "documents", document(507, to=(OUTSIDE,)), "province")
    assert r.status_code == 202, r.text
    wait_until(lambda: platform.count("sendEdoc", 503) >= 2
               and platform.count("getReceivedEdocList", 503) >= 2, what="calls in the outage")
    assert platform.sent == [] and receiver.at("/department") == []
    platform.down = False
    wait_until(lambda: len(platform.sent) == 1, what="the upload after the outage")
    wait_until(lambda: platform.item(item).ack == "done", what="the receipt after the outage")
    wait_until(lambda: receiver.at("/department"), what="the polled document delivered")
    holds_for(lambda: len(platform.sent) == 1 and len(receiver.at("/department")) == 1, 0.5,
              what="each once")


def test_a_hub_that_stored_but_could_not_acknowledge_delivers_once_and_acknowledges_later(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    # the receipt is lost twice (as if the hub died after storing): the item is listed
    # again, found to be a duplicate, and acknowledged then
    platform.fail("updateStatus", 503, 503)
    item = platform.offer(from_outside(508), sender=OUTSIDE)
    wait_until(lambda: platform.item(item).ack == "done", what="the receipt at last")
    assert platform.count("getEdoc") >= 3
    assert messages(hub) == 1
    wait_until(lambda: receiver.at("/department"), what="the document delivered")
    holds_for(lambda: len(receiver.at("/department")) == 1, 0.5, what="one delivery only")


def test_one_poller_per_system_across_processes(hub: LiveHub, platform: Platform,
                                                receiver: Receiver) -> None:
    assert hub.ctx.poller is not None
    hub.ctx.stop_worker()  # no thread of this process polls meanwhile
    import zlib

    key = zlib.crc32(b"vdxp") - 2**31
    with hub.ctx.db.engine.connect() as other:  # another process, polling vdxp now
        assert other.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                             {"a": ADVISORY_LOCK, "b": key}).scalar()
        platform.offer(from_outside(509), sender=OUTSIDE)
        skipped = hub.ctx.poller.poll("vdxp")
        assert skipped.skipped and platform.count("getReceivedEdocList") == 0
        other.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": ADVISORY_LOCK, "b": key})
        other.commit()
    done = hub.ctx.poller.poll("vdxp")
    assert (done.skipped, done.listed, len(done.stored)) == (False, 1, 1)


def test_two_processes_polling_take_each_item_once(
        hub: LiveHub, platform: Platform, receiver: Receiver) -> None:
    from hub.context import HubContext

    other = HubContext.build(hub.ctx.settings, directory=hub.ctx.directory)
    other.start_worker()  # a second worker process's poller, on the same database
    try:
        items = [platform.offer(from_outside(600 + n), sender=OUTSIDE) for n in range(8)]
        wait_until(lambda: all(platform.item(i).ack == "done" for i in items),
                   what="every item acknowledged")
        assert platform.count("updateStatus") == 8  # each acknowledged once, by one poller
        assert messages(hub) == 8
        wait_until(lambda: len(receiver.at("/department")) == 8, what="eight deliveries")
    finally:
        other.close()
