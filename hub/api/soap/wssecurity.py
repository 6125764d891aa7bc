"""Who is calling a SOAP operation: a WS-Security UsernameToken or the HTTP Authorization."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from core.errors import AuthenticationFailed
from hub.api.soap.envelope import SoapRequest
from hub.api.soap.names import WSSE
from hub.ingest.pipeline import Ingest
from routing.directory import System

TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = f"{TOKEN_PROFILE}#PasswordText"
PASSWORD_DIGEST = f"{TOKEN_PROFILE}#PasswordDigest"
CHANNEL = "soap"


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str


def missing_credentials() -> AuthenticationFailed:
    return AuthenticationFailed(
        "no credentials: send a WS-Security UsernameToken (username = system id, "
        "password = API key) or HTTP Basic authentication",
        code="missing_credentials",
        detail_vi="Thiếu thông tin xác thực: gửi WS-Security UsernameToken (tên đăng nhập = mã "
                  "hệ thống, mật khẩu = khóa API) hoặc HTTP Basic",
    )


def _malformed(detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        detail, code="malformed_credentials",
        detail_vi="Tiêu đề WS-Security không đúng dạng UsernameToken",
    )


def _one(parent: etree._Element, name: str) -> etree._Element | None:
    found = parent.findall(f"{{{WSSE}}}{name}")
    if len(found) > 1:
        raise _malformed(f"the WS-Security header holds {len(found)} {name} elements, not one")
    return found[0] if found else None


def username_token(request: SoapRequest) -> UsernameToken | None:
    """The UsernameToken of the request's wsse:Security header; None when there is no header.

    Raises AuthenticationFailed when the header is malformed or uses PasswordDigest (the
    hub keeps only hashes of keys, so it cannot check a digest).
    """
    blocks = request.header(WSSE, "Security")
    if not blocks:
        return None
    if len(blocks) > 1:
        raise _malformed("the request holds more than one wsse:Security header")
    token = _one(blocks[0], "UsernameToken")
    if token is None:
        raise _malformed("the wsse:Security header holds no UsernameToken")
    user = _one(token, "Username")
    username = (user.text or "").strip() if user is not None else ""
    password = _one(token, "Password")
    if not username or password is None:
        raise _malformed("the UsernameToken needs a Username and a Password")
    kind = (password.get("Type") or PASSWORD_TEXT).strip()
    if kind == PASSWORD_DIGEST:
        raise AuthenticationFailed(
            "PasswordDigest is not supported: API keys are stored only as hashes, so send the "
            "key as PasswordText (over HTTPS)",
            code="password_digest_unsupported",
            detail_vi="Không hỗ trợ PasswordDigest vì khóa API chỉ được lưu dạng băm; hãy gửi "
                      "PasswordText (qua HTTPS)",
        )
    if kind != PASSWORD_TEXT:
        raise _malformed(f"unknown password type {kind!r}; use PasswordText")
    return UsernameToken(username, password.text or "")


def _claimed(request: SoapRequest) -> str | None:
    for block in request.header(WSSE, "Security"):
        for user in block.iter(f"{{{WSSE}}}Username"):
            return (user.text or "").strip() or None
    return None


def authenticate(ingest: Ingest, request: SoapRequest, authorization: str | None) -> System:
    """The calling system, from the UsernameToken and/or the HTTP Authorization header.

    Both may be sent; they must then name the same system. Every refusal is audited.
    Raises AuthenticationFailed.
    """
    try:
        token = username_token(request)
        if token is None and not authorization:
            raise missing_credentials()
    except AuthenticationFailed as exc:
        ingest.record_rejection(None, CHANNEL, exc, claimed=_claimed(request))
        raise
    by_token = (ingest.authenticate_password(token.username, token.password, CHANNEL)
                if token is not None else None)
    by_header = ingest.authenticate(authorization, CHANNEL) if authorization else None
    if by_token is not None and by_header is not None and by_token.id != by_header.id:
        conflict = AuthenticationFailed(
            "the UsernameToken and the HTTP Authorization header name different systems",
            code="conflicting_credentials",
            detail_vi="UsernameToken và tiêu đề Authorization thuộc hai hệ thống khác nhau",
        )
        ingest.record_rejection(None, CHANNEL, conflict, claimed=by_token.id)
        raise conflict
    system = by_token or by_header
    if system is None:  # unreachable: one of the two was present and authenticated
        raise missing_credentials()
    return system
