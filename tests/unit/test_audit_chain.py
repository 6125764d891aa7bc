"""The audit chain: every kind of tampering is found at its position (SQLite here; the same
against PostgreSQL through the CLI in tests/integration/test_audit_tampering_pg.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from core.settings import Settings
from hub.cli import app
from hub.store.db import Database
from security import audit
from security.audit_tables import AuditEvent
from tests.audit_support import (
    DEPARTMENT,
    PROVINCE,
    audit_settings,
    chain,
    cut_tail,
    document_id,
    forge_insert,
    message_id,
    row,
    sql,
    swap,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return audit_settings(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path)


@pytest.fixture
def db(settings: Settings) -> Database:
    return chain(settings, events=12, signed_at=10)


def report(db: Database, anchors: list[audit.Checkpoint] | None = None) -> audit.ChainReport:
    with db.reading() as session:
        return audit.verify(session, anchors or [])


def kinds(r: audit.ChainReport) -> list[tuple[str, int, int | None]]:
    return [(b.kind, b.seq, b.last_seq) for b in r.breaks]


def test_intact_chain_verifies(db: Database) -> None:
    r = report(db)
    assert r.ok and r.events == 12 and r.last_seq == 12


def test_the_documented_body_format_recomputes_every_hash(db: Database) -> None:
    """An outside tool following docs/security.md, written without the hub's code."""
    prev = "0" * 64
    for seq in range(1, 13):
        stored = row(db, seq)
        body = {k: stored[k] for k in ("seq", "at", "event", "actor", "message_id",
                                       "delivery_id")}
        body["detail"] = json.loads(stored["detail"])
        if stored["organizations"]:
            body["organizations"] = stored["organizations"]
        for k in ("document_id", "sha256"):
            if stored[k] is not None:
                body[k] = stored[k]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert stored["prev_hash"] == prev
        assert hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest() == stored["hash"]
        prev = stored["hash"]
    assert row(db, 1)["organizations"] == f"{PROVINCE} {DEPARTMENT}"


def test_events_without_search_fields_hash_as_before_they_existed() -> None:
    body = audit.body_of(seq=1, at="t", event="e", actor="a", message_id=None,
                         delivery_id=None, detail={})
    assert sorted(body) == ["actor", "at", "delivery_id", "detail", "event", "message_id",
                            "seq"]


def test_edited_event_is_named_with_its_message_and_document(db: Database) -> None:
    sql(db, "UPDATE audit_events SET detail = :d WHERE seq = 5", d='{"n":99}')
    r = report(db)
    assert kinds(r) == [("edited", 5, None)]
    assert (r.breaks[0].message_id, r.breaks[0].document_id) == (message_id(5), document_id(5))


@pytest.mark.parametrize("column,value", [("organizations", "000.00.05.H57"),
                                          ("document_id", "1/CV-FORGED"),
                                          ("sha256", "0" * 64), ("actor", "someone")])
def test_every_search_field_is_covered_by_the_hash(db: Database, column: str,
                                                   value: str) -> None:
    sql(db, f"UPDATE audit_events SET {column} = :v WHERE seq = 7", v=value)
    assert kinds(report(db)) == [("edited", 7, None)]


def test_rewritten_event_with_a_recomputed_hash_is_found_where_it_was_changed(
        db: Database) -> None:
    with db.transaction() as session:
        event = session.get(AuditEvent, 3)
        assert event is not None
        event.actor = "intruder"
        event.hash = audit.link_hash(event.prev_hash, audit.event_body(event))
    assert kinds(report(db)) == [("rewritten", 3, None)]


def test_deleted_event_is_named_with_its_neighbours(db: Database) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq = 6")
    r = report(db)
    assert kinds(r) == [("missing", 6, None)]
    assert [(n.seq, n.message_id, n.document_id) for n in r.breaks[0].neighbours] == [
        (5, message_id(5), document_id(5)), (7, message_id(7), document_id(7))]


def test_deleted_run_of_events_is_one_break(db: Database) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq BETWEEN 4 AND 6")
    assert kinds(report(db)) == [("missing", 4, 6)]


def test_deleted_first_event_is_found(db: Database) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq = 1")
    assert kinds(report(db)) == [("missing", 1, None)]


def test_deleted_event_with_the_rest_renumbered_is_still_found(db: Database) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq = 4")
    sql(db, "UPDATE audit_events SET seq = -seq WHERE seq > 4")
    sql(db, "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0")
    sql(db, "UPDATE audit_head SET seq = 11")
    found = kinds(report(db))
    assert ("missing", 4, None) in found
    assert ("moved", 4, 11) in found  # positions 4..11 hash as events 5..12


def test_inserted_event_is_found_at_its_position(db: Database) -> None:
    forge_insert(db, 5)
    r = report(db)
    found = kinds(r)
    assert ("inserted", 5, None) in found
    inserted = next(b for b in r.breaks if b.kind == "inserted" and b.seq == 5)
    assert inserted.document_id == "999/QĐ-UBND"
    assert ("moved", 6, 13) in found  # the events after it were renumbered


def test_reordered_events_are_found(db: Database) -> None:
    swap(db, 4, 5)
    r = report(db)
    assert kinds(r) == [("moved", 4, None), ("moved", 5, None)]
    assert "hashed as event 5" in r.breaks[0].problem


def test_event_moved_to_the_end_is_found(db: Database) -> None:
    sql(db, "UPDATE audit_events SET seq = 13 WHERE seq = 3")
    sql(db, "UPDATE audit_head SET seq = 13, hash = :h", h=row(db, 13)["hash"])
    r = report(db)
    assert kinds(r) == [("moved", 13, None)]
    assert "hashed as event 3" in r.breaks[0].problem


def test_removed_tail_is_found_by_the_chain_head(db: Database) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq > 9")
    assert kinds(report(db)) == [("truncated", 10, 12)]


def test_removed_tail_and_head_row_are_found(db: Database) -> None:
    cut_tail(db, 8)
    assert kinds(report(db)) == [("head", 9, None)]


def test_removed_tail_with_a_forged_head_is_found_by_a_checkpoint(db: Database) -> None:
    last = row(db, 8)
    sql(db, "DELETE FROM audit_events WHERE seq > 8")
    sql(db, "UPDATE audit_head SET seq = 8, hash = :h", h=last["hash"])
    assert report(db).ok  # the chain alone cannot tell
    with db.reading() as session:
        from security.audit_checkpoints import stored
        anchors = stored(session)
    assert kinds(report(db, anchors)) == [("truncated", 9, 10)]


def test_a_rewritten_chain_does_not_match_its_checkpoint(db: Database) -> None:
    """Even rewriting every hash after an edit, up to the head, is found."""
    with db.transaction() as session:
        events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        prev = events[1].hash
        for event in events[2:]:
            if event.seq == 3:
                event.actor = "intruder"
            event.prev_hash = prev
            event.hash = audit.link_hash(prev, audit.event_body(event))
            prev = event.hash
        session.execute(update(audit.AuditHead).values(hash=prev))
    assert report(db).ok
    with db.reading() as session:
        from security.audit_checkpoints import stored
        anchors = stored(session)
    assert kinds(report(db, anchors)) == [("checkpoint", 10, None)]


def test_cli_verify_names_the_position_and_exits_1(
        db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"LIENTHONG_DATABASE_URL": db.url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output and "1 of 1 signed checkpoint(s) match" in ok.output
    sql(db, "DELETE FROM audit_events WHERE seq = 6")
    broken = runner.invoke(app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert "missing    event 6 is missing" in broken.output
    assert f"event 5 (message {message_id(5)}, DocumentId {document_id(5)})" in broken.output
    as_json = runner.invoke(app, ["audit", "verify", "--json"], env=env)
    assert as_json.exit_code == 1
    report_ = json.loads(as_json.output)
    assert not report_["ok"]
    assert [(b["kind"], b["seq"]) for b in report_["breaks"]] == [("missing", 6)]
    assert report_["breaks"][0]["neighbours"][1]["document_id"] == document_id(7)


def test_export_then_offline_verify(db: Database, settings: Settings, tmp_path: Path) -> None:
    env = {"LIENTHONG_DATABASE_URL": db.url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    runner = CliRunner()
    export, pem = tmp_path / "audit.jsonl", tmp_path / "hub.pem"
    assert runner.invoke(app, ["audit", "export", "-o", str(export)], env=env).exit_code == 0
    assert runner.invoke(app, ["audit", "public-key", "-o", str(pem)], env=env).exit_code == 0
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, 13))
    assert lines[0]["detail"] == {"n": 1, "tên": "Huế"}
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    # offline: only the export, the public key and the checkpoint file; no database at all
    offline = {"LIENTHONG_DATABASE_URL": "postgresql+psycopg://nowhere.invalid/none"}
    args = ["audit", "verify", "--export", str(export), "--public-key", str(pem),
            "--checkpoints", str(settings.audit.checkpoint_file)]
    ok = runner.invoke(app, args, env=offline)
    assert ok.exit_code == 0, ok.output
    assert "1 of 1 signed checkpoint(s) match" in ok.output
    # the end of the export cut off: the checkpoint file still knows event 10 existed
    export.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in lines[:8]) + "\n",
                      encoding="utf-8")
    cut = runner.invoke(app, [*args, "--json"], env=offline)
    assert cut.exit_code == 1
    assert [(b["kind"], b["seq"], b["last_seq"]) for b in json.loads(cut.output)["breaks"]] == [
        ("truncated", 9, 10)]


def test_checkpoint_signed_by_another_key_is_reported(db: Database, settings: Settings,
                                                      tmp_path: Path) -> None:
    from tests.audit_support import checkpoint

    other = audit_settings(db.url, tmp_path / "elsewhere")
    checkpoint(db, other)  # head 12, signed by a key the hub does not trust
    env = {"LIENTHONG_DATABASE_URL": db.url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    result = CliRunner().invoke(app, ["audit", "verify", "--json"], env=env)
    assert result.exit_code == 1
    breaks = json.loads(result.output)["breaks"]
    assert [(b["kind"], b["seq"]) for b in breaks] == [("checkpoint", 12)]
    assert "not a trusted key" in breaks[0]["problem"]


def test_tail_cut_with_head_row_passes_nothing(db: Database, settings: Settings) -> None:
    """The old hole: two DELETE statements erased the tail unseen."""
    cut_tail(db, 8)
    env = {"LIENTHONG_DATABASE_URL": db.url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    result = CliRunner().invoke(app, ["audit", "verify", "--json"], env=env)
    assert result.exit_code == 1
    found = [(b["kind"], b["seq"]) for b in json.loads(result.output)["breaks"]]
    assert ("truncated", 9) in found
