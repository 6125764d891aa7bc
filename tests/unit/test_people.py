"""People's accounts on SQLite: tokens stored only as hashes, rotation kills the old token,
revocation and expiry have their own codes, every change is audited in its transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from hub.store.db import Database
from hub.store.migrate import upgrade
from security import people
from security.audit import verify
from security.audit_tables import AuditEvent
from security.people_tables import Person

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'people.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def add(db: Database, name: str = "lan", role: str = "auditor", days: int = 30,
        now: dt.datetime = T0) -> people.Issued:
    with db.transaction() as session:
        return people.add(session, name, role, actor="cli:tester", days=days, now=now)


def who(db: Database, token: str, now: dt.datetime = T0) -> str:
    with db.reading() as session:
        return people.caller_for_token(session, token, now).actor


def refusal(db: Database, token: str, now: dt.datetime = T0) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        who(db, token, now)
    return caught.value


def events(db: Database) -> list[tuple[str, str, dict]]:
    with db.reading() as session:
        rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    return [(r.event, r.actor, json.loads(r.detail)) for r in rows]


def test_a_token_is_shown_once_and_stored_only_as_its_hash(db: Database, tmp_path: Path) -> None:
    issued = add(db)
    assert issued.token.startswith("ltp_") and len(issued.token) >= 40
    assert who(db, issued.token) == "person:lan"
    with db.reading() as session:
        stored = session.execute(select(Person)).scalar_one()
    assert stored.token_hash == people.token_hash(issued.token) != issued.token
    db.dispose()
    assert issued.token.encode() not in (tmp_path / "people.db").read_bytes()


def test_every_token_is_different(db: Database) -> None:
    tokens = {add(db, f"p{i}").token for i in range(5)}
    assert len(tokens) == 5


def test_rotation_gives_a_new_token_and_the_old_one_dies(db: Database) -> None:
    old = add(db)
    with db.transaction() as session:
        new = people.rotate(session, "lan", actor="cli:tester", days=10, now=T0)
    assert new.token != old.token
    assert who(db, new.token) == "person:lan"
    # a replaced token is simply unknown: nobody holds it any more
    assert refusal(db, old.token).code == "invalid_credentials"
    assert new.expires_at == T0 + dt.timedelta(days=10)


def test_an_expired_token_is_refused_with_its_own_code(db: Database) -> None:
    issued = add(db, days=1)
    assert who(db, issued.token, T0 + dt.timedelta(hours=23)) == "person:lan"
    late = refusal(db, issued.token, T0 + dt.timedelta(days=1))
    assert (late.code, late.http_status, late.claimed) == ("token_expired", 401, "person:lan")
    assert late.detail_vi


def test_a_revoked_token_is_refused_with_its_own_code_even_before_expiry(db: Database) -> None:
    issued = add(db)
    with db.transaction() as session:
        people.revoke(session, "lan", actor="cli:tester", now=T0)
    caught = refusal(db, issued.token)
    assert (caught.code, caught.claimed) == ("token_revoked", "person:lan")
    # revoked stays revoked: no new token, no password, the name is not reused
    with db.transaction() as session, pytest.raises(Conflict) as again:
        people.rotate(session, "lan", actor="cli:tester", days=1)
    assert again.value.code == "person_revoked"
    with pytest.raises(Conflict) as reused:
        add(db)
    assert reused.value.code == "person_exists"


def test_an_unknown_token_is_invalid_credentials(db: Database) -> None:
    add(db)
    assert refusal(db, "ltp_" + "x" * 43).code == "invalid_credentials"


@pytest.mark.parametrize(("name", "role", "days", "path"), [
    ("", "auditor", 5, "/name"),
    ("has space", "auditor", 5, "/name"),
    ("x" * 49, "auditor", 5, "/name"),
    ("lan", "root", 5, "/role"),
    ("lan", "system", 5, "/role"),  # "system" is the role of connected systems only
    ("lan", "auditor", 0, "/expires_days"),
])
def test_bad_accounts_are_refused_with_the_offending_field(
    db: Database, name: str, role: str, days: int, path: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        add(db, name, role, days)
    assert [e.path for e in caught.value.errors] == [path]
    assert events(db) == []


def test_changes_are_audited_with_the_actor_and_never_a_secret(db: Database) -> None:
    issued = add(db, role="operator")
    with db.transaction() as session:
        rotated = people.rotate(session, "lan", actor="person:root", days=3)
        people.set_password(session, "lan", "correct horse battery", actor="cli:tester",
                            min_length=12)
        people.revoke(session, "lan", actor="cli:tester")
    trail = events(db)
    assert [(e, a) for e, a, _ in trail] == [
        ("person.added", "cli:tester"), ("person.token_rotated", "person:root"),
        ("person.password_set", "cli:tester"), ("person.revoked", "cli:tester")]
    assert trail[0][2]["name"] == "lan" and trail[0][2]["role"] == "operator"
    text = json.dumps(trail)
    for secret in (issued.token, rotated.token, people.token_hash(rotated.token),
                   "correct horse battery", "argon2"):
        assert secret not in text
    with db.reading() as session:
        assert verify(session).ok


def test_a_change_and_its_audit_event_commit_or_roll_back_together(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        people.add(session, "lan", "auditor", actor="cli:tester", days=5)
        raise RuntimeError("the transaction fails after the change")
    assert events(db) == []
    with db.reading() as session:
        assert people.accounts(session) == []


def test_passwords_are_argon2_and_checked(db: Database) -> None:
    add(db)
    with db.transaction() as session:
        people.set_password(session, "lan", "correct horse battery", actor="cli:tester",
                            min_length=12)
    with db.reading() as session:
        stored = session.execute(select(Person)).scalar_one().password_hash or ""
        assert stored.startswith("$argon2id$") and "correct horse" not in stored
        assert people.check_password(session, "lan", "correct horse battery").actor == \
            "person:lan"
        for name, password in (("lan", "wrong horse battery"), ("nobody", "x" * 12)):
            with pytest.raises(AuthenticationFailed) as caught:
                people.check_password(session, name, password)
            assert caught.value.code == "invalid_credentials"


def test_a_short_password_is_refused(db: Database) -> None:
    add(db)
    with db.transaction() as session, pytest.raises(ValidationFailed) as caught:
        people.set_password(session, "lan", "short", actor="cli:tester", min_length=12)
    assert caught.value.errors[0].path == "/password"


def test_a_revoked_person_cannot_log_in_with_a_password(db: Database) -> None:
    add(db)
    with db.transaction() as session:
        people.set_password(session, "lan", "correct horse battery", actor="cli:t",
                            min_length=12)
        people.revoke(session, "lan", actor="cli:t")
    with db.reading() as session, pytest.raises(AuthenticationFailed):
        people.check_password(session, "lan", "correct horse battery")


def test_accounts_show_states_never_hashes(db: Database) -> None:
    add(db, "active", days=30)
    add(db, "late", days=1)
    add(db, "gone", days=30)
    with db.transaction() as session:
        people.revoke(session, "gone", actor="cli:t")
    with db.reading() as session:
        listed = people.accounts(session, now=T0 + dt.timedelta(days=2))
    assert [(a.name, a.state) for a in listed] == [
        ("active", "active"), ("gone", "revoked"), ("late", "expired")]
    assert all("hash" not in field for field in people.Account.__dataclass_fields__)


def test_unknown_names_are_not_found(db: Database) -> None:
    with db.transaction() as session, pytest.raises(NotFound) as caught:
        people.revoke(session, "nobody", actor="cli:t")
    assert caught.value.code == "person_not_found"


def test_the_lookup_reads_every_time_so_revocation_is_immediate(db: Database) -> None:
    issued = add(db)
    lookup = people.PersonTokens(db.reading, clock=lambda: T0)
    assert lookup(issued.token).actor == "person:lan"
    with db.transaction() as session:
        people.revoke(session, "lan", actor="cli:t")
    with pytest.raises(AuthenticationFailed) as caught:
        lookup(issued.token)
    assert caught.value.code == "token_revoked"
