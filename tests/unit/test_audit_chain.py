"""The audit chain detects any change, removal or reordering of events."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from hub.cli import app
from hub.store.db import Database
from hub.store.migrate import upgrade
from security import audit
from security.audit_tables import AuditEvent


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(database.engine)
    for batch in range(3):
        with database.transaction() as session:
            audit.append(session, [
                audit.PendingEvent("message.received", actor="sys", message_id=f"m{batch}",
                                   detail={"n": batch, "tên": "Huế"}),
                audit.PendingEvent("message.routed", actor="hub", message_id=f"m{batch}"),
            ])
    return database


def report(db: Database) -> audit.ChainReport:
    with db.reading() as session:
        return audit.verify(session)


def test_intact_chain_verifies(db: Database) -> None:
    r = report(db)
    assert r.ok and r.events == 6


def test_changed_detail_is_detected_at_its_event(db: Database) -> None:
    with db.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 3)
                        .values(detail='{"n":99,"tên":"Huế"}'))
    r = report(db)
    assert not r.ok and r.first_bad_seq == 3 and "does not match" in r.problem


def test_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    with db.transaction() as session:
        row = session.get(AuditEvent, 3)
        assert row is not None
        row.actor = "intruder"
        row.hash = audit.link_hash(row.prev_hash, audit.event_body(row))
    r = report(db)
    assert not r.ok and r.first_bad_seq == 4 and "link to the previous event is broken" in r.problem


def test_removed_event_is_detected(db: Database) -> None:
    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    r = report(db)
    assert not r.ok and r.first_bad_seq == 3 and "missing" in r.problem


def test_truncated_tail_is_detected(db: Database) -> None:
    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 6))
    r = report(db)
    assert not r.ok and r.first_bad_seq == 6 and r.events == 5 and "removed" in r.problem


CONTENT = ("at", "event", "actor", "message_id", "delivery_id", "detail", "prev_hash", "hash")


def swap_content(db: Database, a: int, b: int) -> None:
    """Exchange everything but the sequence numbers of two events: they change places."""
    with db.transaction() as session:
        first, second = session.get(AuditEvent, a), session.get(AuditEvent, b)
        assert first is not None and second is not None
        for column in CONTENT:
            one, other = getattr(first, column), getattr(second, column)
            setattr(first, column, other)
            setattr(second, column, one)


def test_two_events_exchanged_are_detected_at_the_first_of_them(db: Database) -> None:
    swap_content(db, 3, 4)
    r = report(db)
    assert not r.ok and r.first_bad_seq == 3 and r.events == 2
    assert "link to the previous event is broken" in r.problem


def test_two_events_renumbered_are_detected_at_the_first_of_them(db: Database) -> None:
    with db.transaction() as session:
        for old, new in ((3, -1), (4, 3), (-1, 4)):
            session.execute(update(AuditEvent).where(AuditEvent.seq == old).values(seq=new))
    with db.reading() as session:
        assert [e.event for e in audit.iter_events(session)][2:4] == [
            "message.routed", "message.received"]  # the swap took
    r = report(db)
    assert not r.ok and r.first_bad_seq == 3 and r.events == 2
    assert "link to the previous event is broken" in r.problem


def test_exchanged_events_with_relinked_hashes_break_the_next_link(db: Database) -> None:
    """Whoever reorders and rehashes the two events still cannot fix the event after them."""
    swap_content(db, 3, 4)
    with db.transaction() as session:
        prev = session.get(AuditEvent, 2)
        assert prev is not None
        prev_hash = prev.hash
        for seq in (3, 4):
            row = session.get(AuditEvent, seq)
            assert row is not None
            row.prev_hash = prev_hash
            row.hash = prev_hash = audit.link_hash(prev_hash, audit.event_body(row))
    r = report(db)
    assert not r.ok and r.first_bad_seq == 5 and r.events == 4
    assert "link to the previous event is broken" in r.problem


def test_cli_verify_exit_codes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", db.url)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    with db.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(event="forged"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "event 5" in broken.output


def test_cli_export_jsonl_carries_hashes(db: Database, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    import json

    monkeypatch.setenv("LIENTHONG_DATABASE_URL", db.url)
    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(app, ["audit", "export", "-o", str(out)])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[0]["detail"] == {"n": 0, "tên": "Huế"}
    assert lines[1]["prev_hash"] == lines[0]["hash"]
