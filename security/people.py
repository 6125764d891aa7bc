"""People's accounts: adding, rotating and revoking tokens, passwords, and the person behind
a bearer token.

A person's bearer token is 32 random bytes (`ltp_` + URL-safe base64), shown once and stored
only as its SHA-256: a secret with 256 bits of entropy cannot be guessed, so a slow hash would
add cost to every request and no safety. Passwords are chosen by people and guessable, so
they get argon2id, a slow and memory-hard hash. Every change is an audit event appended in
the same transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, FieldError, NotFound, ValidationFailed
from core.tables import utcnow
from security import audit
from security.auth import PERSON_ROLES, PERSON_TOKEN_PREFIX, Caller, refused, unknown_key
from security.people_tables import Person

# a login-like name: it becomes the audit actor `person:NAME`, so it stays short and plain
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,47}$")
_hasher = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs what a wrong password does
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    return PERSON_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a person's token (random, so SHA-256 suffices)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives back naive datetimes)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issued:
    """A freshly issued token: shown once, never stored."""

    name: str
    role: str
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class Account:
    """What may be shown of an account: never a hash."""

    name: str
    role: str
    state: str  # active | expired | revoked
    token_expires_at: dt.datetime | None
    has_password: bool
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None


def _state(person: Person, now: dt.datetime) -> str:
    if person.revoked_at is not None:
        return "revoked"
    if person.token_expires_at is None or aware(person.token_expires_at) <= now:
        return "expired"
    return "active"


def _account(person: Person, now: dt.datetime) -> Account:
    return Account(
        name=person.name, role=person.role, state=_state(person, now),
        token_expires_at=aware(person.token_expires_at) if person.token_expires_at else None,
        has_password=person.password_hash is not None,
        created_at=aware(person.created_at), created_by=person.created_by,
        revoked_at=aware(person.revoked_at) if person.revoked_at else None,
    )


def _invalid(path: str, message: str, message_vi: str) -> ValidationFailed:
    return ValidationFailed(message, code="person_invalid", detail_vi=message_vi,
                            errors=[FieldError(path, message, message_vi)])


def _check_days(days: int) -> None:
    if not 1 <= days <= 3650:
        raise _invalid("/expires_days", "a token must live from 1 to 3650 days",
                       "Thời hạn của mã truy cập phải từ 1 đến 3650 ngày")


def _find(session: Session, name: str) -> Person:
    person = session.execute(select(Person).where(Person.name == name)).scalar_one_or_none()
    if person is None:
        raise NotFound(f"no person named {name!r}", code="person_not_found",
                       detail_vi=f"Không có người dùng {name!r}")
    return person


def _live(session: Session, name: str) -> Person:
    person = _find(session, name)
    if person.revoked_at is not None:
        raise Conflict(f"{name} was revoked; a revoked account stays revoked (add a new one)",
                       code="person_revoked",
                       detail_vi=f"Tài khoản {name} đã bị thu hồi; hãy tạo tài khoản mới")
    return person


def add(session: Session, name: str, role: str, *, actor: str, days: int,
        now: dt.datetime | None = None) -> Issued:
    """A new account with a fresh token, audited as `person.added`.

    Raises ValidationFailed (a malformed name, an unknown role, a lifetime out of range) or
    Conflict (the name is taken, also by a revoked account: audit actors stay unambiguous).
    """
    if not NAME.match(name):
        raise _invalid("/name", "a name is 1 to 48 letters, digits, '.', '_', '@' or '-', "
                       "starting with a letter or digit",
                       "Tên gồm 1 đến 48 chữ cái, chữ số, '.', '_', '@' hoặc '-'")
    if role not in PERSON_ROLES:
        raise _invalid("/role", f"the role must be one of {', '.join(PERSON_ROLES)}",
                       f"Vai trò phải là một trong {', '.join(PERSON_ROLES)}")
    _check_days(days)
    if session.execute(select(Person.id).where(Person.name == name)).first() is not None:
        raise Conflict(f"a person named {name!r} exists already", code="person_exists",
                       detail_vi=f"Đã có người dùng {name!r}")
    now = now or utcnow()
    token, expires = new_token(), now + dt.timedelta(days=days)
    session.add(Person(id=str(uuid.uuid4()), name=name, role=role,
                       token_hash=token_hash(token), token_expires_at=expires,
                       created_at=now, created_by=actor[:64]))
    try:
        session.flush()
    except IntegrityError as exc:  # added at the same moment by someone else
        raise Conflict(f"a person named {name!r} exists already", code="person_exists",
                       detail_vi=f"Đã có người dùng {name!r}") from exc
    audit.append(session, [audit.PendingEvent(
        "person.added", actor=actor,
        detail={"name": name, "role": role, "token_expires_at": expires.isoformat()})])
    return Issued(name, role, token, expires)


def rotate(session: Session, name: str, *, actor: str, days: int,
           now: dt.datetime | None = None) -> Issued:
    """A new token for `name`; the old one stops working at once. Audited as
    `person.token_rotated`.

    Raises NotFound, Conflict (the account is revoked) or ValidationFailed (lifetime).
    """
    _check_days(days)
    person = _live(session, name)
    now = now or utcnow()
    token, expires = new_token(), now + dt.timedelta(days=days)
    person.token_hash, person.token_expires_at = token_hash(token), expires
    session.flush()
    audit.append(session, [audit.PendingEvent(
        "person.token_rotated", actor=actor,
        detail={"name": name, "role": person.role, "token_expires_at": expires.isoformat()})])
    return Issued(name, person.role, token, expires)


def revoke(session: Session, name: str, *, actor: str,
           now: dt.datetime | None = None) -> Account:
    """Revoke an account: its token and password stop working at once, for good. The
    token's hash is kept so that token is refused as `token_revoked`. Audited as
    `person.revoked`.

    Raises NotFound, or Conflict when it is revoked already.
    """
    person = _live(session, name)
    now = now or utcnow()
    person.revoked_at, person.password_hash = now, None
    session.flush()
    audit.append(session, [audit.PendingEvent(
        "person.revoked", actor=actor, detail={"name": name, "role": person.role})])
    return _account(person, now)


def set_password(session: Session, name: str, password: str, *, actor: str,
                 min_length: int) -> None:
    """Set (or replace) a person's password, stored as an argon2id hash. Audited as
    `person.password_set` (never the password or its hash).

    Raises NotFound, Conflict (revoked) or ValidationFailed (shorter than `min_length`).
    """
    person = _live(session, name)
    if len(password) < min_length:
        raise _invalid("/password", f"a password has at least {min_length} characters",
                       f"Mật khẩu phải có ít nhất {min_length} ký tự")
    person.password_hash = _hasher.hash(password)
    session.flush()
    audit.append(session, [audit.PendingEvent(
        "person.password_set", actor=actor, detail={"name": name})])


def check_password(session: Session, name: str, password: str) -> Caller:
    """The person whose name and password these are (for the console).

    Raises AuthenticationFailed (`invalid_credentials`) for an unknown name, a wrong
    password, no password or a revoked account, all told apart from none of the others.
    """
    person = session.execute(select(Person).where(Person.name == name)).scalar_one_or_none()
    stored = person.password_hash if person is not None else None
    try:
        ok = _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or person is None or person.revoked_at is not None:
        raise refused("unknown username or password", "invalid_credentials",
                      "Sai tên đăng nhập hoặc mật khẩu", name[:64] or None)
    return Caller.of_person(person.name, person.role)


def accounts(session: Session, now: dt.datetime | None = None) -> list[Account]:
    """Every account, by name: roles and states, never hashes."""
    now = now or utcnow()
    people = session.execute(select(Person).order_by(Person.name)).scalars().all()
    return [_account(p, now) for p in people]


def caller_for_token(session: Session, token: str, now: dt.datetime | None = None) -> Caller:
    """The person whose bearer token this is.

    Raises AuthenticationFailed: `invalid_credentials` for a token nobody holds (also an
    old token replaced by rotation), `token_revoked` and `token_expired` for a token that
    was valid once. Only the token's holder can get the two latter answers (a guess never
    finds a hash), so telling them apart says nothing to anyone else and tells the holder
    whether to ask for a new token or that access ended.
    """
    digest = token_hash(token)
    person = session.execute(
        select(Person).where(Person.token_hash == digest)).scalar_one_or_none()
    if person is None:
        raise unknown_key()
    actor = f"person:{person.name}"
    if person.revoked_at is not None:
        raise refused("this token was revoked", "token_revoked",
                      "Mã truy cập này đã bị thu hồi", actor)
    if person.token_expires_at is None or aware(person.token_expires_at) <= (now or utcnow()):
        raise refused("this token has expired: ask an admin to rotate it", "token_expired",
                      "Mã truy cập đã hết hạn: đề nghị quản trị viên cấp mã mới", actor)
    return Caller.of_person(person.name, person.role)


class PersonTokens:
    """The people lookup `security.auth.authenticate` takes: one read per request, so a
    revocation or rotation takes effect at the very next request."""

    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]],
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    def __call__(self, token: str) -> Caller:
        """Raises AuthenticationFailed as `caller_for_token` does, and what the session
        factory raises when the database is down."""
        with self._sessions() as session:
            return caller_for_token(session, token, self._clock())
