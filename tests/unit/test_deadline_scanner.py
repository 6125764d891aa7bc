"""The deadline scanner on SQLite with a moved clock: it starts each recipient's duties when
the document reaches it, flags the late ones once (record, audit, metrics, the listing),
records a late confirmation, and leaves alone what carries no deadline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.model import Kind
from core.settings import Settings
from hub.cli import app
from hub.context import HubContext
from hub.deadlines import DeadlineKeeper
from hub.overdue import OverdueFilter, overdue
from hub.query import message_view
from hub.store.models import Delivery
from routing.directory import Directory, System
from security.audit_tables import AuditEvent
from security.egress import Egress
from tests.support import body, document, key_hash, said, status

SENDER, PUSHED, PULLED = "000.00.00.H57", "000.00.02.H57", "000.00.21.H57"
MINUTE = dt.timedelta(minutes=1)


DIRECTORY = {
    "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                      {"code": PUSHED, "name": "Sở", "level": "department"},
                      {"code": PULLED, "name": "Huyện", "level": "district"}],
    "systems": [
        {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k-tinh")],
         "receive": {"mode": "pull"}},
        {"id": "so", "organizations": [PUSHED], "api_key_hashes": [key_hash("k-so")],
         "receive": {"mode": "push", "adapter": "memory", "url": "http://so.invalid/in"}},
        {"id": "huyen", "organizations": [PULLED], "api_key_hashes": [key_hash("k-huyen")],
         "receive": {"mode": "pull"}},
    ]}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[HubContext]:
    directory = Directory.from_dict(DIRECTORY)
    registry = AdapterRegistry(Egress([]), factories={})
    registry.register("memory", MemoryAdapter())
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False)
    hub = HubContext.build(settings, directory=directory, adapters=registry)
    hub.deliverer.schedule = lambda ids, prio, delay: None  # attempts are driven by the test
    try:
        yield hub
    finally:
        hub.close()


def system(ctx: HubContext, name: str) -> System:
    found = ctx.directory.system(name)
    assert found is not None
    return found


def send(ctx: HubContext, number: int, to: tuple[str, ...] = (PUSHED, PULLED),
         **over: Any) -> str:
    receipt = ctx.ingest.submit(system(ctx, "tinh"), body(document(number, to=to, **over)),
                                "application/json", Kind.DOCUMENT)
    return receipt.id


def confirm(ctx: HubContext, message_id: str, who: str, org: str, code: str = "01") -> None:
    document_id = message_view(ctx.db, ctx.settings, None, message_id)["document_id"]
    ctx.ingest.submit(system(ctx, who), body(status(document_id, org, SENDER, code)),
                      "application/json", Kind.STATUS)


def deliver_push(ctx: HubContext, message_id: str) -> None:
    with ctx.db.reading() as session:
        ids = session.scalars(select(Delivery.id).where(Delivery.message_id == message_id,
                                                        Delivery.mode == "push")).all()
    for delivery_id in ids:
        assert ctx.deliverer.run(delivery_id).state == "delivered"


def duties(ctx: HubContext, message_id: str) -> dict[str, dict[str, Any]]:
    view = message_view(ctx.db, ctx.settings, None, message_id)
    return {d["recipient"]: d["deadlines"] for d in view["deliveries"]}


def due(ctx: HubContext, message_id: str, org: str, kind: str = "receipt") -> dt.datetime:
    return dt.datetime.fromisoformat(duties(ctx, message_id)[org][kind]["due_at"]
                                     ).replace(tzinfo=dt.UTC)


def flags(ctx: HubContext) -> list[dict[str, Any]]:
    with ctx.db.reading() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.event == "delivery.overdue")
                               .order_by(AuditEvent.seq)).all()
        return [{"message_id": r.message_id, "delivery_id": r.delivery_id,
                 "organizations": r.organizations, **json.loads(r.detail)} for r in rows]


def keeper(ctx: HubContext) -> DeadlineKeeper:
    assert ctx.deadlines is not None
    return ctx.deadlines


def metric(ctx: HubContext, name: str, kind: str) -> float:
    value = ctx.metrics.registry.get_sample_value(name, {"kind": kind})
    return value or 0.0


def test_only_the_recipient_that_did_not_confirm_the_same_day_is_flagged_once(
        ctx: HubContext) -> None:
    message_id = send(ctx, 1)
    deliver_push(ctx, message_id)
    assert keeper(ctx).scan_once().started == 2  # type: ignore[union-attr]
    confirm(ctx, message_id, "huyen", PULLED)  # the district confirms, the department not
    end = max(due(ctx, message_id, PUSHED), due(ctx, message_id, PULLED))
    assert keeper(ctx).scan_once(end - MINUTE).flagged == []  # type: ignore[union-attr]

    scan = keeper(ctx).scan_once(end + MINUTE)
    assert scan is not None and [kind for _, kind in scan.flagged] == ["receipt"]
    seen = duties(ctx, message_id)
    assert seen[PUSHED]["receipt"]["overdue"] and seen[PUSHED]["receipt"]["flagged_at"]
    assert seen[PUSHED]["receipt"]["overdue_since"] == seen[PUSHED]["receipt"]["due_at"]
    assert not seen[PULLED]["receipt"]["overdue"] and seen[PULLED]["receipt"]["met_at"]
    assert seen[PUSHED]["answer"] is None  # no DueDate, no answer duty
    [flag] = flags(ctx)
    assert (flag["kind"], flag["recipient"], flag["system"], flag["message_id"]) == (
        "receipt", PUSHED, "so", message_id)
    assert flag["organizations"] == f"{SENDER} {PUSHED}"
    assert dt.datetime.fromisoformat(flag["due_at"]) == due(ctx, message_id, PUSHED)
    assert metric(ctx, "lienthong_overdue_flags_total", "receipt") == 1
    assert metric(ctx, "lienthong_overdue_deliveries", "receipt") == 1
    listing = overdue(ctx.db, ctx.directory, None, OverdueFilter(), end + 2 * MINUTE)
    assert [(g["organization"], [i["kind"] for i in g["late"]])
            for g in listing["organizations"]] == [(PUSHED, ["receipt"])]
    assert listing["organizations"][0]["late"][0]["late_by_s"] >= 120

    keeper(ctx).scan_once(end + 60 * MINUTE)  # never raised twice
    assert len(flags(ctx)) == 1 and metric(ctx, "lienthong_overdue_flags_total",
                                           "receipt") == 1

    confirm(ctx, message_id, "so", PUSHED, "03")  # late, but it comes
    keeper(ctx).scan_once(end + 90 * MINUTE)
    late = duties(ctx, message_id)[PUSHED]["receipt"]
    # when it came (the hub's real time: only the scanner's clock was moved)
    assert late["met_at"] and not late["overdue"] and late["overdue_since"] is None
    assert late["flagged_at"]  # the record keeps that it was flagged
    assert metric(ctx, "lienthong_overdue_deliveries", "receipt") == 0
    assert overdue(ctx.db, ctx.directory, None, OverdueFilter(), end)["count"] == 0
    assert len(flags(ctx)) == 1


def test_a_due_date_passing_without_an_answer_is_flagged_until_an_answer_comes(
        ctx: HubContext) -> None:
    today = dt.datetime.now(keeper(ctx).calendar.zone).date()
    message_id = send(ctx, 2, to=(PULLED,), dueDate=f"{today:%Y/%m/%d}")
    keeper(ctx).scan_once()
    confirm(ctx, message_id, "huyen", PULLED, "04")  # received and assigned: not an answer
    answer_due = due(ctx, message_id, PULLED, "answer")
    assert answer_due == keeper(ctx).calendar.day_due(today)
    assert keeper(ctx).scan_once(answer_due - MINUTE).flagged == []  # type: ignore[union-attr]
    scan = keeper(ctx).scan_once(answer_due + MINUTE)
    assert scan is not None and [kind for _, kind in scan.flagged] == ["answer"]
    assert duties(ctx, message_id)[PULLED]["answer"]["overdue"]
    assert metric(ctx, "lienthong_overdue_deliveries", "answer") == 1
    by_kind = overdue(ctx.db, ctx.directory, None, OverdueFilter(kind="receipt"), answer_due)
    assert by_kind["count"] == 0

    # the district answers with a document of its own naming the province's
    original = message_view(ctx.db, ctx.settings, None, message_id)["document_id"]
    reply = document(3, to=(SENDER,), sender=PULLED, documentId=f"{PULLED},2026/11/28,3/BC",
                     responseFor=[{"organId": SENDER, "documentId": original}])
    answered = ctx.ingest.submit(system(ctx, "huyen"), body(reply), "application/json",
                                 Kind.DOCUMENT)
    assert message_view(ctx.db, ctx.settings, None, answered.id)["response_to"] == message_id
    keeper(ctx).scan_once(answer_due + 2 * MINUTE)
    answer = duties(ctx, message_id)[PULLED]["answer"]
    assert (answer["met_by"], answer["overdue"]) == ("document", False)
    assert metric(ctx, "lienthong_overdue_deliveries", "answer") == 0


def test_a_confirmation_late_before_any_scan_is_still_flagged_and_recorded(
        ctx: HubContext) -> None:
    message_id = send(ctx, 4, to=(PULLED,))
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with ctx.db.transaction() as session:  # the document was put in the inbox long ago
        session.execute(update(Delivery).where(Delivery.message_id == message_id)
                        .values(created_at=two_days_ago))
    confirm(ctx, message_id, "huyen", PULLED)
    scan = keeper(ctx).scan_once()
    assert scan is not None and scan.closed == 1
    [flag] = flags(ctx)
    assert (flag["kind"], flag["met_by"]) == ("receipt", "status 01")
    receipt = duties(ctx, message_id)[PULLED]["receipt"]
    assert receipt["met_late"] and not receipt["overdue"]
    assert keeper(ctx).scan_once().looked_at == 0  # type: ignore[union-attr]


def test_statuses_undelivered_documents_and_older_rows_carry_no_deadline(
        ctx: HubContext) -> None:
    never = send(ctx, 5, to=(PUSHED,))  # never delivered: nothing is due
    older = send(ctx, 6, to=(PULLED,))
    with ctx.db.transaction() as session:  # stored before deadlines were kept
        session.execute(update(Delivery).where(Delivery.message_id == older)
                        .values(deadlines_open=None))
    confirmed = send(ctx, 7, to=(PULLED,))
    confirm(ctx, confirmed, "huyen", PULLED)  # its own delivery to the province: a status
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    scan = keeper(ctx).scan_once(far)
    assert scan is not None and scan.flagged == []
    assert duties(ctx, never)[PUSHED]["receipt"]["due_at"] is None
    assert duties(ctx, older)[PULLED]["receipt"]["due_at"] is None
    with ctx.db.reading() as session:
        still_open = session.scalars(select(Delivery.message_id)
                                     .where(Delivery.deadlines_open.is_(True))).all()
    assert still_open == [never]  # the status delivery and the confirmed one are closed


def test_the_command_line_lists_who_is_late(ctx: HubContext, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    message_id = send(ctx, 8, to=(PUSHED, PULLED))
    with ctx.db.transaction() as session:  # put in the district's inbox three days ago
        session.execute(update(Delivery).where(Delivery.message_id == message_id,
                                               Delivery.mode == "pull")
                        .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)))
    keeper(ctx).scan_once()
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(DIRECTORY, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("LIENTHONG_DIRECTORY_FILE", str(directory))
    shown = CliRunner().invoke(app, ["overdue"])
    assert shown.exit_code == 0, shown.output
    text = said(shown.output)
    assert f"{PULLED} Huyện" in text and "receipt" in text and PUSHED not in text
    assert "1 late" in text and " d " in text  # days late, at least one

    as_json = CliRunner().invoke(app, ["overdue", "--json", "--kind", "receipt"])
    listing = json.loads(as_json.output)
    assert [g["organization"] for g in listing["organizations"]] == [PULLED]
    assert listing["organizations"][0]["late"][0]["late_by_s"] > 86_400
    nobody = CliRunner().invoke(app, ["overdue", "--organization", PUSHED])
    assert "nobody is late" in nobody.output
    refused = CliRunner().invoke(app, ["overdue", "--kind", "later"])
    assert refused.exit_code != 0 and "later" in refused.output


def test_a_recalled_document_is_due_no_more(ctx: HubContext) -> None:
    recalled = send(ctx, 9, to=(PUSHED, PULLED))
    kept = send(ctx, 10, to=(PUSHED,))
    deliver_push(ctx, recalled)
    deliver_push(ctx, kept)
    document_id = message_view(ctx.db, ctx.settings, None, recalled)["document_id"]
    # the province recalls the first document: the recall reaches every recipient of it
    # (docs/lifecycle.md), so neither owes it anything; the second is still due
    ctx.ingest.submit(system(ctx, "tinh"), body(status(document_id, SENDER, PULLED, "13")),
                      "application/json", Kind.STATUS)
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    scan = keeper(ctx).scan_once(far)
    assert scan is not None
    assert [(f["message_id"], f["recipient"], f["kind"]) for f in flags(ctx)] == [
        (kept, PUSHED, "receipt")]
    assert [g["organization"] for g in overdue(ctx.db, ctx.directory, None, OverdueFilter(),
                                               far)["organizations"]] == [PUSHED]
