"""The API's guard, shared by REST and SOAP: bodies read within limits, callers identified,
and every refused request audited, each in one function.

Routers call `read_body` and `identify`; they never audit. A refusal is audited where it
becomes an answer: the REST problem handler and the SOAP fault builder both call
`audit_refusal`, and nothing else writes a `message.rejected` event.
"""

from __future__ import annotations

import hashlib
import logging

from starlette.requests import Request

from core.errors import AuthenticationFailed, HubError, MalformedInput, PayloadTooLarge
from core.settings import Limits
from hub.context import HubContext
from routing.directory import System
from security import audit
from security.auth import Credentials, authenticate

log = logging.getLogger(__name__)
REJECTED = "message.rejected"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than {limit} bytes",
        code="payload_too_large",
        detail_vi=f"Nội dung lớn hơn {limit} byte",
    )


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refused early on Content-Length and stopped while streaming as soon
    as it passes the limit, so an oversize body is never held whole.

    Raises PayloadTooLarge, or MalformedInput when Content-Length is not a number.
    """
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise MalformedInput("Content-Length is not a number", code="bad_content_length",
                                 detail_vi="Content-Length không phải là số") from exc
        if size > limit:
            raise too_large(limit)
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    body = bytes(buf)
    # kept for the audit record should the request be refused (its digest, never the body)
    request.state.body = body
    return body


def identify(hub: HubContext, credentials: Credentials) -> System:
    """The calling system. Raises AuthenticationFailed (audited where it is answered)."""
    return authenticate(hub.directory, credentials)


def body_sha256(request: Request) -> str | None:
    """The SHA-256 of the body `read_body` read for this request, if it read one."""
    body = getattr(request.state, "body", None)
    return hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else None


def audit_refusal(hub: HubContext, channel: str, exc: HubError, *, actor: str | None = None,
                  where: str = "", sha256: str | None = None) -> None:
    """Audit a refused request: who, why, where, the organisations the caller serves and
    the body's SHA-256; never the payload. Never raises: a refusal is answered even when
    the audit store is down (and that is logged)."""
    hub.metrics.rejected.labels(exc.code, channel).inc()
    detail: dict[str, object] = {
        "channel": channel,
        "code": exc.code,
        "status": exc.http_status,
        "reason": exc.detail,
        "paths": [e.path for e in exc.errors][:50],
    }
    if where:
        detail["where"] = where[:200]
    if isinstance(exc, AuthenticationFailed) and exc.claimed:
        detail["claimed_identity"] = exc.claimed[:64]
    caller = hub.directory.system(actor) if actor else None
    try:
        hub.ingest.writer.record([audit.PendingEvent(
            REJECTED, actor=actor or "unauthenticated", detail=detail, sha256=sha256,
            organizations=caller.organizations if caller is not None else ())])
    except HubError:
        log.exception("could not audit a refusal (%s)", exc.code)
