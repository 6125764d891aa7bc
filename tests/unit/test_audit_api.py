"""The auditors' routes: closed to everyone until the auditor role exists; with an auditor
(the role check overridden here), search in cursor pages and the chain's check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from hub.api.deps import Auditor
from hub.app import create_app
from hub.store.db import Database
from hub.store.migrate import upgrade
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


def role_check() -> Callable[..., Any]:
    """The dependency behind `Auditor`, whatever its name."""
    return Auditor.__metadata__[0].dependency  # type: ignore[no-any-return]


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


def as_auditor(client: TestClient) -> TestClient:
    client.app.dependency_overrides[role_check()] = lambda: None  # type: ignore[attr-defined]
    return client


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit/verify"])
def test_nobody_gets_in_until_the_auditor_role_exists(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
    assert response.json()["detail_vi"]


def test_search_pages_through_one_organisation(client: TestClient) -> None:
    as_auditor(client)
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


def test_search_by_document_and_event_with_hashes(client: TestClient) -> None:
    as_auditor(client)
    body = client.get("/api/v1/audit", params={"document_id": document_id(5),
                                               "event": ["delivery.*"]}).json()
    [event] = body["items"]
    assert (event["seq"], event["message_id"], event["event"]) == (
        5, message_id(5), "delivery.succeeded")
    assert event["organizations"] == "000.00.00.H57 000.00.02.H57"
    assert len(event["hash"]) == 64 and len(event["prev_hash"]) == 64
    newest = client.get("/api/v1/audit", params={"order": "desc", "limit": 1}).json()
    assert newest["items"][0]["seq"] == 12


def test_a_bad_cursor_is_a_problem(client: TestClient) -> None:
    as_auditor(client)
    response = client.get("/api/v1/audit", params={"cursor": "not-one"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_verify_reports_the_position_of_a_break(client: TestClient) -> None:
    as_auditor(client)
    ok = client.get("/api/v1/audit/verify").json()
    assert ok["ok"] and ok["events"] == 12
    assert ok["checkpoints"]["verified"] == 1 and ok["checkpoints"]["last"]["seq"] == 12
    app: Any = client.app
    sql(app.state.hub.db, "DELETE FROM audit_events WHERE seq = 7")
    broken = client.get("/api/v1/audit/verify").json()
    assert not broken["ok"]
    assert [(b["kind"], b["seq"]) for b in broken["breaks"]] == [("missing", 7)]
    assert [n["document_id"] for n in broken["breaks"][0]["neighbours"]] == [
        document_id(6), document_id(8)]
