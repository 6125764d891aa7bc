"""Searching the audit trail: each filter returns exactly its events, pages never skip or
repeat one (SQLite here; PostgreSQL in tests/integration/test_audit_tampering_pg.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from core.errors import PermanentError
from hub.store.db import Database
from hub.store.migrate import upgrade
from security.audit_query import AuditFilter, matching, search
from tests.audit_support import QUERY_CASES, audit_settings, fill, numbers


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    tmp = tmp_path_factory.mktemp("query")
    database = Database(audit_settings(f"sqlite:///{tmp / 'audit.db'}", tmp).database_url)
    upgrade(database.engine)
    fill(database, 1, 12)
    return database


@pytest.mark.parametrize("conditions,expected", QUERY_CASES)
def test_each_filter_returns_exactly_its_events(db: Database, conditions: dict[str, Any],
                                                expected: list[int]) -> None:
    with db.reading() as session:
        assert numbers(search(session, AuditFilter(**conditions), limit=100).items) == expected


def test_an_organization_must_be_one_code(db: Database) -> None:
    with db.reading() as session, pytest.raises(PermanentError) as caught:
        search(session, AuditFilter(organization="000.00.00.H57 000.00.02.H57"))
    assert caught.value.code == "invalid_organization"


def test_time_range_is_inclusive_then_exclusive(db: Database) -> None:
    import datetime as dt

    with db.engine.connect() as conn:
        times = {n: conn.execute(text("SELECT at FROM audit_events WHERE seq = :s"),
                                 {"s": n}).scalar_one() for n in (4, 10)}
    since, until = (dt.datetime.fromisoformat(times[4]), dt.datetime.fromisoformat(times[10]))
    with db.reading() as session:
        # events are appended three per transaction: 4..6 and 7..9 share their times
        assert numbers(search(session, AuditFilter(since=since, until=until)).items) == [
            4, 5, 6, 7, 8, 9]
        naive = since.astimezone(dt.UTC).replace(tzinfo=None)  # naive means UTC
        assert numbers(search(session, AuditFilter(since=naive)).items) == list(range(4, 13))
        local = since.astimezone(dt.timezone(dt.timedelta(hours=7)))  # Vietnam time
        assert numbers(search(session, AuditFilter(since=local)).items) == list(range(4, 13))


@pytest.mark.parametrize("newest_first", [False, True])
def test_pages_cover_every_event_once(db: Database, newest_first: bool) -> None:
    pages, cursor = [], None
    with db.reading() as session:
        while True:
            page = search(session, AuditFilter(organization="000.00.21.H57"), limit=2,
                          cursor=cursor, newest_first=newest_first)
            pages.append(numbers(page.items))
            cursor = page.next_cursor
            if cursor is None:
                break
    expected = [[2, 4], [6, 8], [10, 12]]
    assert pages == ([list(reversed(p)) for p in reversed(expected)] if newest_first
                     else expected)


def test_the_cursor_keeps_its_direction(db: Database) -> None:
    with db.reading() as session:
        first = search(session, AuditFilter(), limit=5, newest_first=True)
        assert first.next_cursor is not None
        # the caller forgot newest_first: the cursor still goes on downwards
        second = search(session, AuditFilter(), limit=5, cursor=first.next_cursor)
    assert numbers(first.items) + numbers(second.items) == list(range(12, 2, -1))


@pytest.mark.parametrize("cursor", ["x", "eyJhZnRlciI6InMifQ", "e30", "!!!"])
def test_a_cursor_not_handed_out_is_refused(db: Database, cursor: str) -> None:
    with db.reading() as session, pytest.raises(PermanentError) as caught:
        search(session, AuditFilter(), cursor=cursor)
    assert caught.value.code == "invalid_cursor"


def test_matching_reads_everything_in_pages(db: Database) -> None:
    with db.reading() as session:
        assert numbers(matching(session, AuditFilter(), batch=5)) == list(range(1, 13))


def test_a_matching_page_of_exactly_the_limit_has_no_next_cursor(db: Database) -> None:
    with db.reading() as session:
        page = search(session, AuditFilter(actor="province"), limit=4)
    assert numbers(page.items) == [3, 6, 9, 12] and page.next_cursor is None


