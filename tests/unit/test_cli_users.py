"""`lienthong users`: add prints a token once, list never shows secrets, rotate and revoke
take effect at once, passwd asks twice; each change is audited with who ran it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from core.errors import AuthenticationFailed
from hub.cli import app
from hub.cli.users import cli_actor
from hub.store.db import Database
from security import people
from security.audit_tables import AuditEvent
from security.people_tables import Person


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database)
    return database


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["users", *args], input=stdin)


def token_holder(url: str, token: str) -> str:
    db = Database(url)
    try:
        with db.reading() as session:
            return people.caller_for_token(session, token).actor
    finally:
        db.dispose()


def trail(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        with db.reading() as session:
            rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
            return [(r.event, r.actor) for r in rows]
    finally:
        db.dispose()


def test_add_prints_only_the_token_on_stdout_and_it_works(url: str) -> None:
    result = run("add", "lan", "--role", "auditor", "--expires-days", "7")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("ltp_") and "\n" not in token
    assert "shown this once" in result.stderr
    assert token_holder(url, token) == "person:lan"
    assert trail(url) == [("person.added", cli_actor())]
    assert cli_actor().startswith("cli:") and len(cli_actor()) > 4


def test_list_shows_roles_and_states_never_a_token_or_hash(url: str) -> None:
    token = run("add", "lan", "--role", "operator").stdout.strip()
    run("add", "minh", "--role", "admin")
    assert run("revoke", "minh").exit_code == 0
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "lan" in result.stdout and "operator" in result.stdout and "active" in result.stdout
    assert "minh" in result.stdout and "revoked" in result.stdout
    db = Database(url)
    with db.reading() as session:
        stored = [p.token_hash or "" for p in session.execute(select(Person)).scalars()]
    db.dispose()
    for secret in (token, "sha256:", *[h.removeprefix("sha256:")[:16] for h in stored]):
        assert secret not in result.output


def test_rotate_kills_the_old_token(url: str) -> None:
    old = run("add", "lan", "--role", "auditor").stdout.strip()
    result = run("rotate", "lan")
    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    assert new != old and token_holder(url, new) == "person:lan"
    with pytest.raises(AuthenticationFailed) as caught:
        token_holder(url, old)
    assert caught.value.code == "invalid_credentials"
    assert [e for e, _ in trail(url)] == ["person.added", "person.token_rotated"]


def test_revoke_refuses_the_token_as_revoked(url: str) -> None:
    token = run("add", "lan", "--role", "auditor").stdout.strip()
    assert run("revoke", "lan").exit_code == 0
    with pytest.raises(AuthenticationFailed) as caught:
        token_holder(url, token)
    assert caught.value.code == "token_revoked"
    again = run("revoke", "lan")
    assert again.exit_code == 1 and "person_revoked" in again.stderr


def test_refusals_exit_one_with_their_code(url: str) -> None:
    run("add", "lan", "--role", "auditor")
    taken = run("add", "lan", "--role", "auditor")
    assert taken.exit_code == 1 and "person_exists" in taken.stderr
    bad_role = run("add", "minh", "--role", "root")
    assert bad_role.exit_code == 1 and "/role" in bad_role.stderr
    missing = run("rotate", "nobody")
    assert missing.exit_code == 1 and "person_not_found" in missing.stderr
    assert [e for e, _ in trail(url)] == ["person.added"]


def test_passwd_asks_twice_and_stores_an_argon2_hash(url: str) -> None:
    run("add", "lan", "--role", "operator")
    # a mismatch asks again; the matching pair is kept
    result = run("passwd", "lan", stdin="first try pass\nother words\n"
                                         "correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    db = Database(url)
    with db.reading() as session:
        stored = session.execute(select(Person)).scalar_one().password_hash or ""
        assert stored.startswith("$argon2id$")
        assert people.check_password(session, "lan", "correct horse battery").id == "lan"
    db.dispose()
    assert trail(url)[-1] == ("person.password_set", cli_actor())


def test_passwd_refuses_a_short_password(url: str) -> None:
    run("add", "lan", "--role", "operator")
    result = run("passwd", "lan", stdin="short\nshort\n")
    assert result.exit_code == 1 and "/password" in result.stderr
    assert json.dumps(trail(url)).count("person.password_set") == 0
