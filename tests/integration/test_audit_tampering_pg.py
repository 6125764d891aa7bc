"""Tampering with the audit trail in PostgreSQL, the way a database administrator could
(plain SQL): `lienthong audit verify` names the position of each change and exits 1; an
intact chain with its signed checkpoints passes; the search returns exactly its events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from hub.cli import app
from hub.store.db import Database
from security.audit_query import AuditFilter, search
from tests.audit_support import (
    QUERY_CASES,
    audit_settings,
    chain,
    checkpoint,
    cut_tail,
    document_id,
    forge_insert,
    message_id,
    numbers,
    sql,
    swap,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(pg_url: str, tmp_path: Path) -> Settings:
    return audit_settings(pg_url, tmp_path)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = chain(settings, events=12, signed_at=10)
    yield database
    database.dispose()


def verify(settings: Settings, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run `lienthong audit verify` as an operator would; its exit code, JSON report and
    human output."""
    env = {"LIENTHONG_DATABASE_URL": settings.database_url,
           "LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(settings.audit.signing_key_file),
           "LIENTHONG_AUDIT__CHECKPOINT_FILE": str(settings.audit.checkpoint_file)}
    runner = CliRunner()
    as_json = runner.invoke(app, ["audit", "verify", "--json", *args], env=env)
    human = runner.invoke(app, ["audit", "verify", *args], env=env)
    assert as_json.exit_code == human.exit_code, human.output
    return as_json.exit_code, json.loads(as_json.output), human.output


def breaks(report: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    return [(b["kind"], b["seq"], b["last_seq"]) for b in report["breaks"]]


def test_an_intact_chain_with_its_checkpoints_passes(db: Database, settings: Settings) -> None:
    code, report, human = verify(settings)
    assert code == 0, human
    assert report["ok"] and report["events"] == 12
    assert report["checkpoints"]["verified"] == 1  # table and file hold the same one
    assert report["checkpoints"]["last"]["seq"] == 10
    assert "audit chain intact" in human


def test_an_edited_row_is_named(db: Database, settings: Settings) -> None:
    sql(db, "UPDATE audit_events SET document_id = '1/CV-GIA' WHERE seq = 5")
    code, report, human = verify(settings)
    assert code == 1
    assert breaks(report) == [("edited", 5, None)]
    assert report["breaks"][0]["message_id"] == message_id(5)
    assert "edited     event 5 does not match its hash" in human


def test_a_deleted_row_is_named_with_its_neighbours(db: Database, settings: Settings) -> None:
    sql(db, "DELETE FROM audit_events WHERE seq = 6")
    code, report, human = verify(settings)
    assert code == 1
    assert breaks(report) == [("missing", 6, None)]
    assert [(n["seq"], n["message_id"], n["document_id"])
            for n in report["breaks"][0]["neighbours"]] == [
        (5, message_id(5), document_id(5)), (7, message_id(7), document_id(7))]
    assert f"DocumentId {document_id(7)}" in human


def test_an_inserted_row_is_named(db: Database, settings: Settings) -> None:
    forge_insert(db, 5)
    code, report, _ = verify(settings)
    assert code == 1
    found = breaks(report)
    assert ("inserted", 5, None) in found
    assert report["breaks"][found.index(("inserted", 5, None))]["document_id"] == "999/QĐ-UBND"
    # the forged row shifted the signed position 10: the checkpoint no longer matches there
    assert ("checkpoint", 10, None) in found


def test_a_reordered_row_is_named(db: Database, settings: Settings) -> None:
    swap(db, 4, 5)
    code, report, _ = verify(settings)
    assert code == 1
    assert breaks(report) == [("moved", 4, None), ("moved", 5, None)]


def test_cutting_off_the_tail_with_the_head_row_is_caught_by_the_checkpoint_file(
        db: Database, settings: Settings) -> None:
    cut_tail(db, 8)  # events 9..12, the head row, the table's checkpoint at 10: all gone
    code, report, human = verify(settings)
    assert code == 1
    assert ("truncated", 9, 10) in breaks(report)
    assert "events 9..10 were removed" in human


def test_a_checkpoint_signed_by_another_key_is_reported(db: Database, settings: Settings,
                                                        tmp_path: Path) -> None:
    checkpoint(db, audit_settings(settings.database_url, tmp_path / "elsewhere"))
    code, report, _ = verify(settings)
    assert code == 1
    assert breaks(report) == [("checkpoint", 12, None)]
    assert "not a trusted key" in report["breaks"][0]["problem"]


def test_only_the_given_public_key_is_trusted(db: Database, settings: Settings,
                                              tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other_settings = audit_settings(settings.database_url, tmp_path / "other")
    env = {"LIENTHONG_AUDIT__SIGNING_KEY_FILE": str(other_settings.audit.signing_key_file)}
    assert CliRunner().invoke(app, ["audit", "init-key"], env=env).exit_code == 0
    assert CliRunner().invoke(app, ["audit", "public-key", "-o", str(other)],
                              env=env).exit_code == 0
    code, report, _ = verify(settings, "--public-key", str(other))
    assert code == 1
    assert {b["kind"] for b in report["breaks"]} == {"checkpoint"}


@pytest.mark.parametrize("conditions,expected", QUERY_CASES)
def test_search_on_postgresql(db: Database, conditions: dict[str, Any],
                              expected: list[int]) -> None:
    with db.reading() as session:
        assert numbers(search(session, AuditFilter(**conditions)).items) == expected


def test_export_filters_on_postgresql(db: Database, settings: Settings,
                                      tmp_path: Path) -> None:
    out = tmp_path / "district.csv"
    result = CliRunner().invoke(app, ["audit", "export", "--format", "csv", "-o", str(out),
                                      "--organization", "000.00.21.H57",
                                      "--event", "delivery.*"],
                                env={"LIENTHONG_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output
    import csv

    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [json.loads(r["detail"])["n"] for r in rows] == [2, 8]
    assert rows[0]["document_id"] == document_id(2)


def test_processes_checkpointing_at_once_write_each_head_once(settings: Settings) -> None:
    """Two writers (as two processes would, each with its own connections) race for every
    head: one signs it, the other stands aside; the file stays in chain order."""
    import threading

    from hub.checkpointer import Checkpointer, signing_key
    from hub.store.migrate import upgrade
    from security.audit_checkpoints import read_file, stored
    from tests.audit_support import fill

    dbs = [Database(settings.database_url) for _ in range(2)]
    upgrade(dbs[0].engine)
    key = signing_key(settings)
    writers = [Checkpointer(d, settings, key) for d in dbs]
    try:
        for round_ in range(5):
            fill(dbs[0], round_ * 4 + 1, round_ * 4 + 4)
            start = threading.Barrier(2)
            results: list[object] = []

            def race(w: Checkpointer, start: threading.Barrier, results: list[object]) -> None:
                start.wait()
                results.append(w.checkpoint_once(force=True))

            threads = [threading.Thread(target=race, args=(w, start, results))
                       for w in writers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            assert len(results) == 2  # neither failed
            assert sum(r is not None for r in results) == 1
        with dbs[0].reading() as session:
            in_table = [cp.seq for cp in stored(session)]
        assert settings.audit.checkpoint_file is not None
        in_file = [cp.seq for cp in read_file(settings.audit.checkpoint_file)[0]]
        assert in_table == in_file == [4, 8, 12, 16, 20]
    finally:
        for w in writers:
            w.sinks.close()
        for d in dbs:
            d.dispose()
