"""Who is calling: one function for every channel (API key, HTTP Basic, WS-Security).

REST and SOAP both hand `authenticate` the credentials they found; the rules (which forms
are accepted, that two credentials must name the same system, that an unknown key and a
wrong username are not told apart) are written once, here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from core.errors import AuthenticationFailed
from routing.directory import Directory, System

Channel = Literal["rest", "soap"]

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


def refused(detail: str, code: str, detail_vi: str, claimed: str | None) -> AuthenticationFailed:
    exc = AuthenticationFailed(detail, code=code, detail_vi=detail_vi)
    exc.claimed = claimed
    return exc


def authenticate(directory: Directory, credentials: Credentials) -> System:
    """The system behind the credentials, whatever the channel.

    Accepts `Authorization: Bearer <api key>`, `Authorization: Basic` (system id, API key)
    and a UsernameToken (system id, API key); when both a token and a header are sent
    they must name the same system.
    Raises AuthenticationFailed (with `claimed` set to the identity the caller claimed)
    when the credentials are missing, malformed, unknown or contradictory.
    """
    claimed = credentials.claimed
    try:
        by_token = (by_password(directory, credentials.token.username, credentials.token.password)
                    if credentials.token is not None else None)
        by_header = (by_authorization(directory, credentials.authorization)
                     if credentials.authorization else None)
    except AuthenticationFailed as exc:
        exc.claimed = claimed
        raise
    if by_token is not None and by_header is not None and by_token.id != by_header.id:
        raise refused(
            "the UsernameToken and the HTTP Authorization header name different systems",
            "conflicting_credentials",
            "UsernameToken và tiêu đề Authorization thuộc hai hệ thống khác nhau", claimed)
    system = by_token or by_header
    if system is None:
        detail, detail_vi = _MISSING[credentials.channel]
        raise refused(detail, "missing_credentials", detail_vi, claimed)
    return system


def by_authorization(directory: Directory, authorization: str) -> System:
    """The system behind an Authorization header (Bearer API key, or Basic).

    Raises AuthenticationFailed when the header is malformed or the key unknown.
    """
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        username, password = decode_basic(value)
        return by_password(directory, username, password)
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed(
            "the Authorization header must be 'Bearer <api key>'",
            code="malformed_credentials",
            detail_vi="Tiêu đề Authorization phải có dạng 'Bearer <api key>'",
        )
    system = directory.system_for_key(value.strip())
    if system is None:
        raise AuthenticationFailed(
            "the API key is not known", code="invalid_credentials",
            detail_vi="Khóa API không hợp lệ",
        )
    return system


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
