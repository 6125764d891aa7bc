"""Signed checkpoints: when they are written, where, with which key, and what they refuse."""

from __future__ import annotations

import datetime as dt
import json
import socket
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from core.settings import Settings
from hub.checkpointer import Checkpointer
from hub.cli import app
from hub.store.db import Database
from hub.store.migrate import upgrade
from security import audit
from security.audit_checkpoints import (
    SigningKey,
    Sinks,
    due,
    load_public_key,
    read_file,
    signature_problem,
)
from security.audit_tables import AuditCheckpoint
from tests.audit_support import audit_settings, fill, sql
from tests.support import wait_until


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return audit_settings(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path,
                          checkpoint_every_events=5, checkpoint_every_s=3600)


@pytest.fixture
def db(settings: Settings) -> Database:
    database = Database(settings.database_url)
    upgrade(database.engine)
    return database


def writer(db: Database, settings: Settings) -> Checkpointer:
    return Checkpointer.from_settings(db, settings)


def stored_seqs(db: Database) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))


def test_due_after_n_events_or_t_seconds_with_new_events() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    last = audit.Checkpoint(10, "h", (now - dt.timedelta(seconds=30)).isoformat(), "k", "s")
    assert not due(audit.Head(0, audit.GENESIS), None, 5, 60, now)
    assert due(audit.Head(1, "x"), None, 5, 60, now)  # the first events: sign at once
    assert not due(audit.Head(14, "x"), last, 5, 60, now)
    assert due(audit.Head(15, "x"), last, 5, 60, now)  # N events
    assert due(audit.Head(11, "x"), last, 5, 60, now + dt.timedelta(seconds=30))  # T seconds
    assert not due(audit.Head(10, "x"), last, 5, 60, now + dt.timedelta(days=1))  # nothing new


def test_checkpoints_every_n_events_in_the_table_and_the_file(db: Database,
                                                               settings: Settings) -> None:
    w = writer(db, settings)
    fill(db, 1, 3)
    assert w.checkpoint_once() is not None  # the first one: at once
    fill(db, 4, 7)
    assert w.checkpoint_once() is None  # 4 events since: not yet
    fill(db, 8, 8)
    cp = w.checkpoint_once()
    assert cp is not None and cp.seq == 8
    assert stored_seqs(db) == [3, 8]
    assert settings.audit.checkpoint_file is not None
    in_file, problems = read_file(settings.audit.checkpoint_file)
    assert [(c.seq, c.hash, c.signature) for c in in_file] == [
        (3, in_file[0].hash, in_file[0].signature), (8, cp.hash, cp.signature)]
    assert problems == []
    assert signature_problem(in_file[1], {w.key.key_id: w.key.public}) is None


def test_the_running_checkpointer_signs_and_signs_the_rest_when_stopped(
        db: Database, settings: Settings) -> None:
    w = writer(db, settings)
    w.start()
    try:
        fill(db, 1, 6)
        wait_until(lambda: stored_seqs(db) == [6], timeout=10, what="a checkpoint at event 6")
        fill(db, 7, 8)
    finally:
        w.stop()
    assert stored_seqs(db) == [6, 8]


def test_a_chain_broken_since_the_last_checkpoint_is_not_signed(
        db: Database, settings: Settings) -> None:
    w = writer(db, settings)
    fill(db, 1, 3)
    assert w.checkpoint_once() is not None
    fill(db, 4, 9)
    sql(db, "UPDATE audit_events SET actor = 'intruder' WHERE seq = 6")
    assert w.checkpoint_once(force=True) is None
    assert w.problem == "event 6 does not match its hash"
    assert stored_seqs(db) == [3]


def test_a_forged_checkpoint_row_is_not_taken_as_the_base(db: Database,
                                                          settings: Settings) -> None:
    w = writer(db, settings)
    fill(db, 1, 9)
    sql(db, "INSERT INTO audit_checkpoints VALUES (9, :h, :at, :k, 'AAAA')",
        h="f" * 64, at=dt.datetime.now(dt.UTC).isoformat(), k=w.key.key_id)
    fill(db, 10, 10)
    cp = w.checkpoint_once()
    # the whole chain from its start was checked and signed, past the forged row
    assert cp is not None and cp.seq == 10


def test_checkpoints_go_to_syslog(db: Database, settings: Settings, tmp_path: Path) -> None:
    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(5)
        syslog = settings.model_copy(update={"audit": settings.audit.model_copy(update={
            "checkpoint_syslog": True, "syslog_address": address})})
        w = writer(db, syslog)
        fill(db, 1, 2)
        cp = w.checkpoint_once()
        w.sinks.close()
        line = server.recv(4096).decode("utf-8")
    assert cp is not None
    assert "lienthong-audit-checkpoint: " in line
    assert json.loads(line[line.index("{"):].rstrip("\x00")) == cp.as_dict()


def test_syslog_lines_are_read_as_a_checkpoint_file(tmp_path: Path) -> None:
    key = SigningKey.create(tmp_path / "k.pem")
    cp = key.sign(7, "a" * 64)
    log = tmp_path / "syslog"
    log.write_text("Dec  1 12:00:00 hub lienthong-audit-checkpoint: "
                   + json.dumps(cp.as_dict()) + "\nsomething else\n", encoding="utf-8")
    found, problems = read_file(log)
    assert [(c.seq, c.signature) for c in found] == [(7, cp.signature)]
    assert problems == [f"{log}:2: not a checkpoint"]


def test_the_key_is_made_once_owner_only_and_its_public_half_exported(
        settings: Settings, tmp_path: Path) -> None:
    env = {"LIENTHONG_DATABASE_URL": settings.database_url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file)}
    runner = CliRunner()
    made = runner.invoke(app, ["audit", "init-key"], env=env)
    assert made.exit_code == 0, made.output
    path = settings.audit.signing_key_file
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = runner.invoke(app, ["audit", "init-key"], env=env)
    assert again.exit_code == 1 and "kept" in again.output
    key = SigningKey.load(path)
    pem = runner.invoke(app, ["audit", "public-key"], env=env)
    assert pem.exit_code == 0 and pem.output.startswith("-----BEGIN PUBLIC KEY-----")
    exported = tmp_path / "hub.pem"
    exported.write_text(pem.output, encoding="ascii")
    cp = key.sign(3, "b" * 64)
    public = load_public_key(exported)
    assert signature_problem(cp, {key.key_id: public}) is None
    forged = audit.Checkpoint(4, cp.hash, cp.at, cp.key_id, cp.signature)
    assert "does not verify" in (signature_problem(forged, {key.key_id: public}) or "")


def test_cli_checkpoint_signs_now_and_refuses_a_broken_chain(db: Database,
                                                             settings: Settings) -> None:
    env = {"LIENTHONG_DATABASE_URL": settings.database_url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    fill(db, 1, 4)
    runner = CliRunner()
    signed = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert signed.exit_code == 0 and "signed at event 4" in signed.output
    fill(db, 5, 6)
    sql(db, "DELETE FROM audit_events WHERE seq = 5")
    refused = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert refused.exit_code == 1 and "event 5 is missing" in refused.output
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1


def test_sinks_append_without_rewriting(tmp_path: Path) -> None:
    path = tmp_path / "cps" / "audit-checkpoints.jsonl"
    key = SigningKey.create(tmp_path / "k.pem")
    sinks = Sinks(path)
    for seq in (1, 2):
        sinks.write(key.sign(seq, str(seq) * 64))
    assert [c.seq for c in read_file(path)[0]] == [1, 2]


def test_where_keys_and_checkpoint_files_go_by_default(tmp_path: Path) -> None:
    embedded = Settings(database_url=f"sqlite:///{tmp_path / 'db' / 'hub.db'}")
    assert embedded.audit.signing_key_file == tmp_path / "db" / "audit-signing.key"
    assert embedded.audit.checkpoint_file == tmp_path / "db" / "audit-checkpoints.jsonl"
    production = Settings(database_url="postgresql+psycopg://db/lienthong",
                          redis_url="redis://redis:6379/0")
    assert production.audit.signing_key_file == Path("var") / "audit-signing.key"
    assert production.audit.checkpoint_file is None  # the operator must choose where


def test_verify_says_when_checkpoints_cannot_be_trusted(db: Database, settings: Settings,
                                                        tmp_path: Path) -> None:
    fill(db, 1, 3)
    writer(db, settings).checkpoint_once()
    env = {"LIENTHONG_DATABASE_URL": settings.database_url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(tmp_path / "nowhere.key"),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    result = CliRunner().invoke(app, ["audit", "verify", "--json"], env=env)
    assert result.exit_code == 1  # a checkpoint nobody can vouch for is not passed over
    report = json.loads(result.output)
    assert {b["kind"] for b in report["breaks"]} == {"checkpoint"}
    assert any("--public-key" in n for n in report["notes"])
