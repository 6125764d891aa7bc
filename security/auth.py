"""Who is calling: API keys (Bearer) and username/password (WS-Security, HTTP Basic)."""

from __future__ import annotations

import base64
import binascii

from core.errors import AuthenticationFailed
from routing.directory import Directory, System


def authenticate_bearer(directory: Directory, authorization: str | None) -> System:
    """The system behind an `Authorization: Bearer <key>` header.

    Raises AuthenticationFailed when the header is missing, malformed or the key unknown.
    """
    if not authorization:
        raise AuthenticationFailed(
            "no credentials: send 'Authorization: Bearer <api key>'",
            code="missing_credentials",
            detail_vi="Thiếu thông tin xác thực: gửi 'Authorization: Bearer <api key>'",
        )
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        username, password = decode_basic(value)
        return authenticate_password(directory, username, password)
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
        ) from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("the Basic credential has no ':'", code="malformed_credentials")
    return username, password


def authenticate_password(directory: Directory, username: str, password: str) -> System:
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
