"""What a SOAP caller presents: a WS-Security UsernameToken and/or the HTTP Authorization.

Reading the header is SOAP's; deciding who the caller is belongs to security/auth.py.
"""

from __future__ import annotations

from typing import Literal

from lxml import etree

from core.errors import AuthenticationFailed
from hub.api.soap.envelope import SoapRequest
from hub.api.soap.names import WSSE
from security.auth import Credentials, UsernameToken

TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = f"{TOKEN_PROFILE}#PasswordText"
PASSWORD_DIGEST = f"{TOKEN_PROFILE}#PasswordDigest"
CHANNEL: Literal["soap"] = "soap"


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
            return (user.text or "").strip()[:64] or None
    return None


def credentials(request: SoapRequest, authorization: str | None) -> Credentials:
    """What the caller presented: its UsernameToken and/or the HTTP Authorization header.

    Raises AuthenticationFailed (with the claimed username) when the header is malformed.
    """
    try:
        token = username_token(request)
    except AuthenticationFailed as exc:
        exc.claimed = _claimed(request)
        raise
    return Credentials(CHANNEL, authorization, token)
