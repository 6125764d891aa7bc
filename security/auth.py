"""Who is calling: one function for every channel (API key, HTTP Basic, WS-Security, a
person's bearer token).

REST and SOAP both hand `authenticate` the credentials they found; the rules (which forms
are accepted, that two credentials must name the same system, that an unknown key and a
wrong username are not told apart, that people's tokens are taken on REST only) are
written once, here. The answer is a `Caller`: a connected system or a person, with roles.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from core.errors import AuthenticationFailed
from routing.directory import Directory, System

Channel = Literal["rest", "soap"]

# "system" is the role of every connected system; the others are people's roles
SYSTEM = "system"
PERSON_ROLES: tuple[str, ...] = ("auditor", "operator", "admin")
ROLES: tuple[str, ...] = (SYSTEM, *PERSON_ROLES)
# people's tokens carry a prefix, so a leaked one is recognisable (secret scanners, logs) and
# only tokens that can be a person's cost a database read
PERSON_TOKEN_PREFIX = "ltp_"

_MISSING = {
    "rest": (
        "no credentials: send 'Authorization: Bearer <api key>'",
        "Thiếu thông tin xác thực: gửi 'Authorization: Bearer <api key>'",
    ),
    "soap": (
        "no credentials: send a WS-Security UsernameToken (username = system id, "
        "password = API key) or HTTP Basic authentication",
        "Thiếu thông tin xác thực: gửi WS-Security UsernameToken (tên đăng nhập = mã "
        "hệ thống, mật khẩu = khóa API) hoặc HTTP Basic",
    ),
}


@dataclass(frozen=True)
class UsernameToken:
    """A username and password from a WS-Security header."""

    username: str
    password: str


@dataclass(frozen=True)
class Credentials:
    """What a caller presented: the HTTP Authorization header and/or a UsernameToken."""

    channel: Channel
    authorization: str | None = None
    token: UsernameToken | None = None

    @property
    def claimed(self) -> str | None:
        """The identity the caller claims, for the audit record of a refusal."""
        if self.token is not None:
            return self.token.username[:64] or None
        scheme, _, value = (self.authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                return decode_basic(value)[0][:64] or None
            except AuthenticationFailed:
                return None
        return None


@dataclass(frozen=True)
class Caller:
    """Who is calling: a connected system (role "system") or a person (auditor, operator,
    admin). A system acts for the organisations it serves; a person acts for the hub and
    for no organisation."""

    kind: Literal["system", "person"]
    id: str
    roles: frozenset[str]
    organizations: tuple[str, ...] = ()
    system: System | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of_system(cls, system: System) -> Caller:
        return cls("system", system.id, frozenset({SYSTEM}), tuple(system.organizations),
                   system)

    @classmethod
    def of_person(cls, name: str, role: str) -> Caller:
        return cls("person", name, frozenset({role}))

    @property
    def actor(self) -> str:
        """The caller as the audit trail names it: a system by its id, `person:NAME`."""
        return self.id if self.kind == "system" else f"person:{self.id}"

    def admitted(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def sees_everything(self) -> bool:
        """People (auditors, operators, admins) see every message whole; a system sees the
        messages it sends or receives, and of other recipients only their state."""
        return self.kind == "person" and self.admitted(PERSON_ROLES)


# finds the person behind a token; raises AuthenticationFailed (security/people.py)
PersonLookup = Callable[[str], Caller]


def refused(detail: str, code: str, detail_vi: str, claimed: str | None) -> AuthenticationFailed:
    exc = AuthenticationFailed(detail, code=code, detail_vi=detail_vi)
    exc.claimed = claimed
    return exc


def may_be_person(credentials: Credentials) -> bool:
    """True when `authenticate` may have to read people's accounts for these credentials
    (a REST bearer token with the people's prefix): the caller then leaves the event loop."""
    scheme, _, value = (credentials.authorization or "").partition(" ")
    return (credentials.channel == "rest" and scheme.lower() == "bearer"
            and value.strip().startswith(PERSON_TOKEN_PREFIX))


def authenticate(directory: Directory, credentials: Credentials,
                 people: PersonLookup | None = None) -> Caller:
    """The system or person behind the credentials, whatever the channel.

    Accepts `Authorization: Bearer <api key>`, `Authorization: Basic` (system id, API key)
    and a UsernameToken (system id, API key); when both a token and a header are sent
    they must name the same system. On REST a bearer token may also be a person's, found
    by `people`; on SOAP a person's token is an unknown key (people do not use SOAP).
    Raises AuthenticationFailed (with `claimed` set to the identity the caller claimed)
    when the credentials are missing, malformed, unknown, contradictory, or a person's
    token that has expired (`token_expired`) or was revoked (`token_revoked`).
    """
    claimed = credentials.claimed
    try:
        by_token = (Caller.of_system(by_password(directory, credentials.token.username,
                                                 credentials.token.password))
                    if credentials.token is not None else None)
        by_header = (by_authorization(directory, credentials.authorization,
                                      people if credentials.channel == "rest" else None)
                     if credentials.authorization else None)
    except AuthenticationFailed as exc:
        exc.claimed = exc.claimed or claimed
        raise
    if by_token is not None and by_header is not None and by_token.id != by_header.id:
        raise refused(
            "the UsernameToken and the HTTP Authorization header name different systems",
            "conflicting_credentials",
            "UsernameToken và tiêu đề Authorization thuộc hai hệ thống khác nhau", claimed)
    caller = by_token or by_header
    if caller is None:
        detail, detail_vi = _MISSING[credentials.channel]
        raise refused(detail, "missing_credentials", detail_vi, claimed)
    return caller


def unknown_key() -> AuthenticationFailed:
    return AuthenticationFailed(
        "the API key or token is not known", code="invalid_credentials",
        detail_vi="Khóa API hoặc mã truy cập không hợp lệ",
    )


def by_authorization(directory: Directory, authorization: str,
                     people: PersonLookup | None = None) -> Caller:
    """The caller behind an Authorization header: Bearer API key, Basic (system id, API
    key), or, when `people` is given, Bearer with a person's token.

    Raises AuthenticationFailed when the header is malformed, the key or token unknown,
    or a person's token expired or revoked.
    """
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        username, password = decode_basic(value)
        return Caller.of_system(by_password(directory, username, password))
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed(
            "the Authorization header must be 'Bearer <api key>'",
            code="malformed_credentials",
            detail_vi="Tiêu đề Authorization phải có dạng 'Bearer <api key>'",
        )
    secret = value.strip()
    system = directory.system_for_key(secret)
    if system is not None:
        return Caller.of_system(system)
    if people is not None and secret.startswith(PERSON_TOKEN_PREFIX):
        return people(secret)
    raise unknown_key()


def decode_basic(value: str) -> tuple[str, str]:
    """Split an HTTP Basic credential. Raises AuthenticationFailed when it is malformed."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationFailed(
            "the Basic credential is not base64 of 'user:password'",
            code="malformed_credentials",
            detail_vi="Thông tin Basic không phải base64 của 'user:password'",
        ) from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("the Basic credential has no ':'", code="malformed_credentials",
                                   detail_vi="Thông tin Basic thiếu dấu ':'")
    return username, password


def by_password(directory: Directory, username: str, password: str) -> System:
    """A system by its id (username) and one of its API keys (password).

    Raises AuthenticationFailed when either is wrong; the two cases are not told apart.
    """
    system = directory.system_for_key(password)
    if system is None or system.id != username:
        raise AuthenticationFailed(
            "unknown username or password", code="invalid_credentials",
            detail_vi="Sai tên đăng nhập hoặc mật khẩu",
        )
    return system
