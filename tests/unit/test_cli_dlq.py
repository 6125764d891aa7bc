"""`lienthong dlq`: list dead letters by system, replay one, several or all matching, each
replay audited with the CLI as actor; the same path as the REST routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from core.model import Kind
from core.settings import Settings
from hub.cli import app
from hub.context import HubContext
from hub.store.models import Delivery
from security.audit_tables import AuditEvent
from tests.support import body, document, key_hash, said, write_directory

SENDER, SO, XA = "000.00.00.H57", "000.00.02.H57", "000.01.21.H57"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[HubContext, dict[str, str]]]:
    file = tmp_path / "directory.yaml"
    write_directory(file, {
        "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                          {"code": SO, "name": "Sở", "level": "department"},
                          {"code": XA, "name": "Xã", "level": "commune"}],
        "systems": [
            {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k")]},
            {"id": "so", "organizations": [SO],
             "receive": {"mode": "push", "url": "http://so.invalid/in"}},
            {"id": "xa", "organizations": [XA],
             "receive": {"mode": "push", "url": "http://xa.invalid/in"}}]})
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database)
    monkeypatch.setenv("LIENTHONG_DIRECTORY_FILE", str(file))
    monkeypatch.setenv("LIENTHONG_EMBEDDED_WORKER", "false")
    ctx = HubContext.build(Settings())
    try:
        tinh = ctx.directory.system("tinh")
        assert tinh is not None
        for n in (1, 2):
            ctx.ingest.submit(tinh, body(document(n, to=(SO, XA))), "application/json",
                              Kind.DOCUMENT)
        with ctx.db.transaction() as session:  # the receivers never answered: all gave up
            session.execute(update(Delivery).values(
                state="dead", attempts=11, last_error="HTTP 503",
                finished_at=dt.datetime.now(dt.UTC)))
            ids = {f"{d.system_id}{i}": d.id for i, d in enumerate(session.execute(
                select(Delivery).order_by(Delivery.system_id, Delivery.id)).scalars())}
        yield ctx, ids
    finally:
        ctx.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["dlq", *args])


def states(ctx: HubContext) -> dict[str, str]:
    with ctx.db.reading() as session:
        return {d.id: d.state for d in session.execute(select(Delivery)).scalars()}


def replayed(ctx: HubContext) -> list[tuple[str | None, str]]:
    with ctx.db.reading() as session:
        return [(e.delivery_id, e.actor) for e in session.execute(
            select(AuditEvent).where(AuditEvent.event == "delivery.replayed")
            .order_by(AuditEvent.seq)).scalars()]


def test_list_shows_dead_letters_of_one_system(hub: tuple[HubContext, dict[str, str]]) -> None:
    result = run("list", "--system", "so")
    assert result.exit_code == 0, result.output
    shown = said(result.output)
    assert shown.count("│ so │") == 2 and "│ xa │" not in shown


def test_replay_all_of_one_system(hub: tuple[HubContext, dict[str, str]]) -> None:
    ctx, ids = hub
    result = run("replay", "--all", "--system", "so")
    assert result.exit_code == 0, result.output
    assert "2 of 2 dead letter(s) queued again" in said(result.output)
    after = states(ctx)
    so = [i for k, i in ids.items() if k.startswith("so")]
    xa = [i for k, i in ids.items() if k.startswith("xa")]
    assert [after[i] for i in so] == ["pending", "pending"]
    assert [after[i] for i in xa] == ["dead", "dead"]
    assert sorted(replayed(ctx)) == sorted((i, "cli") for i in so)


def test_replay_by_ids_says_what_became_of_each(hub: tuple[HubContext, dict[str, str]]) -> None:
    ctx, ids = hub
    xa = [i for k, i in ids.items() if k.startswith("xa")]
    result = run("replay", xa[0], "nope")
    assert result.exit_code == 1  # not everything asked for was replayed
    out = said(result.output)
    assert f"delivery {xa[0]}: queued again" in out and "delivery nope: not found" in out
    again = run("replay", xa[0])
    assert again.exit_code == 1 and "not a dead letter" in said(again.output)
    assert replayed(ctx) == [(xa[0], "cli")]


def test_replay_asks_for_ids_or_all(hub: tuple[HubContext, dict[str, str]]) -> None:
    ctx, _ = hub
    assert run("replay").exit_code == 2
    assert run("replay", "x", "--all").exit_code == 2
    assert run("replay", "x", "--system", "so").exit_code == 2
    assert replayed(ctx) == []
