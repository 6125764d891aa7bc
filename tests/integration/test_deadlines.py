"""NĐ 30/2020 deadlines over the wire, on PostgreSQL and Redis: of two recipients of one
document, the one that confirms receipt the same working day is left alone and the one that
does not is flagged once the hub's clock passes the end of that day, in the message record,
the metrics, the audit trail and GET /api/v1/overdue; a DueDate passing unanswered is
flagged as a late answer. The scanner runs in its thread; only its clock is moved."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.deadlines import DeadlineKeeper
from security import people
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    holds_for,
    hue_directory,
    run_hub,
    status,
    wait_until,
)

pytestmark = pytest.mark.integration
MINUTE = dt.timedelta(minutes=1)


@dataclass
class World:
    hub: LiveHub
    tokens: dict[str, str]

    @property
    def keeper(self) -> DeadlineKeeper:
        assert self.hub.ctx.deadlines is not None
        return self.hub.ctx.deadlines

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.get(who) or KEYS[who]}"}

    def get(self, path: str, who: str = "operator", **params: Any) -> Any:
        r = httpx.get(f"{self.hub.url}{path}", params=params, headers=self.auth(who),
                      timeout=30)
        assert r.status_code == 200, (path, who, r.text)
        return r.json()

    def post(self, path: str, value: dict[str, Any], who: str) -> dict[str, Any]:
        r = httpx.post(f"{self.hub.url}{path}", content=body(value), timeout=30,
                       headers={**self.auth(who), "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        return dict(r.json())

    def duties(self, message_id: str) -> dict[str, dict[str, Any]]:
        view = self.get(f"/api/v1/messages/{message_id}")
        return {d["recipient"]: d["deadlines"] for d in view["deliveries"]}

    def due(self, message_id: str, org: str, kind: str = "receipt") -> dt.datetime:
        return dt.datetime.fromisoformat(self.duties(message_id)[org][kind]["due_at"])

    def flags(self, message_id: str) -> list[dict[str, Any]]:
        page = self.get("/api/v1/audit", "auditor", event="delivery.overdue",
                        message_id=message_id)
        return list(page["items"])

    def metric(self, name: str, kind: str) -> float:
        text = httpx.get(f"{self.hub.url}/metrics", timeout=30).text
        found = re.search(rf'^{name}\{{kind="{kind}"\}} (\S+)$', text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def move_clock(self, to: dt.datetime) -> None:
        self.keeper.clock = lambda: to


@pytest.fixture
def world(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[World]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                             deadlines={"scan_interval_s": 0.2})
    with run_hub(settings, hue_directory(receiver.url)) as hub:
        with hub.ctx.db.transaction() as session:
            tokens = {role: people.add(session, role, role, actor="cli:test", days=5).token
                      for role in ("auditor", "operator")}
        yield World(hub, tokens)


def started(world: World, message_id: str, *orgs: str) -> None:
    """Wait until the document reached `orgs` and the scanner started their duties."""
    wait_until(lambda: all(world.duties(message_id)[o]["receipt"]["due_at"] for o in orgs),
               what="the receipt deadlines to start",
               progress=lambda: world.duties(message_id))


def test_only_the_recipient_that_did_not_confirm_the_same_day_is_flagged(
        world: World) -> None:
    doc = document(901, to=(DEPARTMENT, COMMUNE))
    message_id = world.post("/api/v1/documents", doc, "province")["id"]
    started(world, message_id, DEPARTMENT, COMMUNE)
    world.post("/api/v1/statuses", status(doc["documentId"], COMMUNE, PROVINCE, "01"),
               "commune")
    wait_until(lambda: world.duties(message_id)[COMMUNE]["receipt"]["met_at"],
               what="the commune's confirmation to be recorded")
    end_of_day = max(world.due(message_id, DEPARTMENT), world.due(message_id, COMMUNE))
    assert world.flags(message_id) == []

    world.move_clock(end_of_day + MINUTE)
    wait_until(lambda: world.duties(message_id)[DEPARTMENT]["receipt"]["overdue"],
               what="the department to be flagged late")
    duties = world.duties(message_id)
    department, commune = duties[DEPARTMENT]["receipt"], duties[COMMUNE]["receipt"]
    assert department["overdue_since"] == department["due_at"] and department["met_at"] is None
    assert dt.datetime.fromisoformat(department["flagged_at"]) == end_of_day + MINUTE
    assert not commune["overdue"] and commune["flagged_at"] is None
    assert dt.datetime.fromisoformat(commune["met_at"]) < world.due(message_id, COMMUNE)

    [flag] = world.flags(message_id)
    assert (flag["actor"], flag["detail"]["kind"], flag["detail"]["recipient"]) == (
        "hub", "receipt", DEPARTMENT)
    assert dt.datetime.fromisoformat(flag["detail"]["due_at"]) == world.due(message_id,
                                                                           DEPARTMENT)
    assert flag["organizations"] == f"{PROVINCE} {DEPARTMENT}"
    assert world.metric("lienthong_overdue_deliveries", "receipt") == 1
    assert world.metric("lienthong_overdue_flags_total", "receipt") == 1

    listing = world.get("/api/v1/overdue")
    assert [(g["organization"], g["name"], g["count"]) for g in listing["organizations"]] == [
        (DEPARTMENT, "Sở Nội vụ", 1)]
    [late] = listing["organizations"][0]["late"]
    assert (late["kind"], late["message_id"], late["document_id"], late["sender"],
            late["recipient"], late["system"]) == (
        "receipt", message_id, doc["documentId"], PROVINCE, DEPARTMENT, "department")
    assert late["late_by_s"] == (end_of_day + MINUTE - world.due(message_id, DEPARTMENT)
                                 ).total_seconds()  # 60, unless delivered across 17:00
    # the sender sees whom to chase, the late system itself; the other recipient nothing
    assert world.get("/api/v1/overdue", "province")["count"] == 1
    assert world.get("/api/v1/overdue", "department")["count"] == 1
    assert world.get("/api/v1/overdue", "commune")["count"] == 0
    assert world.get("/api/v1/overdue", "auditor", organization=COMMUNE)["count"] == 0
    assert world.get("/api/v1/overdue", "auditor", kind="answer")["count"] == 0
    later = (end_of_day + MINUTE).isoformat()
    assert world.get("/api/v1/overdue", since=later)["count"] == 0

    # scans go on; the flag is not raised again
    holds_for(lambda: len(world.flags(message_id)) == 1, 1.5, interval=0.3,
              what="one delivery.overdue event")

    # the confirmation comes late: the record says when, and nobody is late any more
    world.post("/api/v1/statuses", status(doc["documentId"], DEPARTMENT, PROVINCE, "01"),
               "department")
    wait_until(lambda: world.duties(message_id)[DEPARTMENT]["receipt"]["met_at"],
               what="the late confirmation to be recorded")
    receipt = world.duties(message_id)[DEPARTMENT]["receipt"]
    assert not receipt["overdue"] and receipt["flagged_at"]
    assert world.get("/api/v1/overdue")["count"] == 0
    assert world.metric("lienthong_overdue_deliveries", "receipt") == 0
    assert len(world.flags(message_id)) == 1


def test_a_due_date_passing_without_an_answer_flags_a_late_answer(world: World) -> None:
    today = dt.datetime.now(world.keeper.calendar.zone).date()
    doc = document(902, to=(DEPARTMENT,), dueDate=f"{today:%Y/%m/%d}")
    message_id = world.post("/api/v1/documents", doc, "province")["id"]
    started(world, message_id, DEPARTMENT)
    # received and being processed the same day: receipt confirmed, no answer yet
    world.post("/api/v1/statuses", status(doc["documentId"], DEPARTMENT, PROVINCE, "05"),
               "department")
    wait_until(lambda: world.duties(message_id)[DEPARTMENT]["receipt"]["met_at"],
               what="the confirmation to be recorded")
    answer_due = world.due(message_id, DEPARTMENT, "answer")
    assert answer_due == world.keeper.calendar.day_due(today)

    world.move_clock(answer_due + 2 * MINUTE)
    wait_until(lambda: world.duties(message_id)[DEPARTMENT]["answer"]["overdue"],
               what="the late answer to be flagged")
    assert not world.duties(message_id)[DEPARTMENT]["receipt"]["overdue"]
    assert [f["detail"]["kind"] for f in world.flags(message_id)] == ["answer"]
    assert world.metric("lienthong_overdue_deliveries", "answer") == 1
    [group] = world.get("/api/v1/overdue", kind="answer")["organizations"]
    assert [(i["kind"], i["late_by_s"]) for i in group["late"]] == [("answer", 120)]
    assert world.get("/api/v1/overdue", kind="receipt")["count"] == 0

    # completed (06): answered, no longer late
    world.post("/api/v1/statuses", status(doc["documentId"], DEPARTMENT, PROVINCE, "06"),
               "department")
    wait_until(lambda: world.duties(message_id)[DEPARTMENT]["answer"]["met_by"] == "status 06",
               what="the answer to be recorded")
    assert world.get("/api/v1/overdue")["count"] == 0


def test_one_process_scans_at_a_time(world: World) -> None:
    from sqlalchemy import text

    from hub.deadlines import ADVISORY_LOCK

    other = DeadlineKeeper(world.hub.ctx.db, world.hub.ctx.settings.deadlines)
    with world.hub.ctx.db.engine.connect() as conn:  # another process is scanning
        wait_until(lambda: conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": ADVISORY_LOCK}).scalar(),
                   what="the running scanner to finish a scan")
        assert other.scan_once() is None
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
        conn.commit()
    wait_until(lambda: other.scan_once() is not None, what="the lock to be free again")
