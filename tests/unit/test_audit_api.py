"""The auditors' routes: closed to everyone but auditors; for an auditor (a real account with
its own token), search in cursor pages and the chain's check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from hub.app import create_app
from hub.store.db import Database
from hub.store.migrate import upgrade
from security import people
from security.audit_tables import AuditCheckpoint
from tests.audit_support import (
    DISTRICT,
    audit_settings,
    document_id,
    fill,
    message_id,
    sql,
)
from tests.support import wait_until


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return audit_settings(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path,
                          checkpoint_every_events=1000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    db = Database(settings.database_url)
    upgrade(db.engine)
    fill(db, 1, 12)
    app = create_app(settings)
    with TestClient(app) as c:
        # the hub's own checkpointer signs the first events as soon as it starts
        wait_until(lambda: signed(db) == [12], timeout=10, what="the first checkpoint")
        yield c
    db.dispose()


def signed(db: Database) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(AuditCheckpoint.seq)))


def person_token(settings: Settings, role: str) -> str:
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            return people.add(session, f"{role}-1", role, actor="cli:test", days=1).token
    finally:
        db.dispose()


def as_auditor(client: TestClient, settings: Settings) -> TestClient:
    client.headers["Authorization"] = f"Bearer {person_token(settings, 'auditor')}"
    return client


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit/verify"])
def test_only_auditors_get_in(client: TestClient, settings: Settings, path: str) -> None:
    assert client.get(path).status_code == 401
    operator = person_token(settings, "operator")
    refused = client.get(path, headers={"Authorization": f"Bearer {operator}"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_forbidden" and refused.json()["detail_vi"]


def test_search_pages_through_one_organisation(client: TestClient, settings: Settings) -> None:
    as_auditor(client, settings)
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"organization": DISTRICT, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/audit", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        seen.append([e["detail"]["n"] for e in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [[2, 4], [6, 8], [10, 12]]


def test_search_by_document_and_event_with_hashes(client: TestClient,
                                                   settings: Settings) -> None:
    as_auditor(client, settings)
    body = client.get("/api/v1/audit", params={"document_id": document_id(5),
                                               "event": ["delivery.*"]}).json()
    [event] = body["items"]
    assert (event["seq"], event["message_id"], event["event"]) == (
        5, message_id(5), "delivery.succeeded")
    assert event["organizations"] == "000.00.00.H57 000.00.02.H57"
    assert len(event["hash"]) == 64 and len(event["prev_hash"]) == 64
    newest = client.get("/api/v1/audit", params={"order": "desc", "limit": 1}).json()
    # the newest event is the auditor's own account being made
    assert (newest["items"][0]["seq"], newest["items"][0]["event"]) == (13, "person.added")


def test_a_bad_cursor_is_a_problem(client: TestClient, settings: Settings) -> None:
    as_auditor(client, settings)
    response = client.get("/api/v1/audit", params={"cursor": "not-one"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_verify_reports_the_position_of_a_break(client: TestClient, settings: Settings) -> None:
    as_auditor(client, settings)
    ok = client.get("/api/v1/audit/verify").json()
    assert ok["ok"] and ok["events"] == 13  # 12, and the auditor's account being made
    assert ok["checkpoints"]["verified"] == 1 and ok["checkpoints"]["last"]["seq"] == 12
    app: Any = client.app
    sql(app.state.hub.db, "DELETE FROM audit_events WHERE seq = 7")
    broken = client.get("/api/v1/audit/verify").json()
    assert not broken["ok"]
    assert [(b["kind"], b["seq"]) for b in broken["breaks"]] == [("missing", 7)]
    assert [n["document_id"] for n in broken["breaks"][0]["neighbours"]] == [
        document_id(6), document_id(8)]
