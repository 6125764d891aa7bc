"""The API's guard, shared by REST and SOAP: header and body limits, rate limits, callers
identified, and every refused request audited, each in one function.

Routers call `read_body` and `identify`; they never audit. A refusal is audited where it
becomes an answer: the REST problem handler and the SOAP fault builder both call
`audit_refusal`, and nothing else writes a `message.rejected` event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import (
    AuthenticationFailed,
    HeadersTooLarge,
    HubError,
    MalformedInput,
    PayloadTooLarge,
    Problem,
    RateLimited,
    RequestTimeout,
)
from core.settings import Limits
from hub.context import HubContext
from security.auth import Caller, Credentials, authenticate
from security.people import PersonTokens

log = logging.getLogger(__name__)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than {limit} bytes",
        code="payload_too_large",
        detail_vi=f"Nội dung lớn hơn {limit} byte",
    )


def source_of(scope: Scope) -> str:
    """The caller's network address, as the server saw it."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refused early on Content-Length and stopped while streaming as soon
    as it passes the limit, so an oversize body is never held whole; a body that trickles
    in slower than `limits.body_timeout_s` is refused too.

    Raises PayloadTooLarge, RequestTimeout, or MalformedInput when Content-Length is not a
    number.
    """
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            return await _read_body(request, limits)
    except TimeoutError as exc:
        raise RequestTimeout(
            f"the body did not arrive within {limits.body_timeout_s:g} s",
            detail_vi=f"Nội dung không đến đủ trong {limits.body_timeout_s:g} giây") from exc


async def _read_body(request: Request, limits: Limits) -> bytes:
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


def rate_limited(wait: float, detail: str, detail_vi: str) -> RateLimited:
    exc = RateLimited(detail, detail_vi=detail_vi)
    exc.retry_after = max(1.0, math.ceil(wait))
    return exc


def identify(hub: HubContext, credentials: Credentials, source: str) -> Caller:
    """The calling system or person, within its rate limits. Reads the database only for a
    person's token (see `security.auth.may_be_person`), and Redis for shared rate limits:
    call it off the event loop then.

    A source address that failed to authenticate too often is refused before its
    credentials are even looked at; a caller over its own rate is refused after.
    Raises AuthenticationFailed or RateLimited (audited where they are answered), or
    ServiceUnavailable when a person's token cannot be checked because the database is
    down.
    """
    rl = hub.settings.rate_limits
    if rl.enabled:
        left = _guarded(lambda: hub.limiter.blocked(f"src:{source}"))
        if left > 0:
            raise rate_limited(
                left, f"too many failed logins from {source}; try again in {math.ceil(left)} s",
                f"Quá nhiều lần đăng nhập sai từ {source}; thử lại sau {math.ceil(left)} giây")
    try:
        caller = authenticate(hub.directory, credentials, PersonTokens(hub.db.reading))
    except AuthenticationFailed:
        if rl.enabled:
            wait = _guarded(lambda: hub.limiter.take(
                f"fail:{source}", rl.failures_per_min / 60.0, rl.failure_burst))
            if wait > 0:
                _guarded(lambda: hub.limiter.block(f"src:{source}", rl.block_s))
        raise
    if rl.enabled:
        wait = _guarded(lambda: hub.limiter.take(f"caller:{caller.actor}", rl.system_per_s,
                                                 rl.system_burst))
        if wait > 0:
            raise rate_limited(
                wait, f"{caller.actor} is over its rate of {rl.system_per_s:g} requests "
                      "a second", f"{caller.actor} vượt quá {rl.system_per_s:g} yêu cầu "
                                  "mỗi giây")
    return caller


class _LimiterState:
    """Whether the limiter's store answered last time, so its loss and its return are each
    said once in the log, not once per request."""

    down = False
    lock = threading.Lock()


def _guarded(check: Callable[[], float | None]) -> float:
    """Run a limiter call; when the limiter's store is down, let the request through: the
    hub keeps taking documents while Redis is away, and says so once in the log."""
    try:
        wait = float(check() or 0.0)
    except Exception as exc:
        with _LimiterState.lock:
            first, _LimiterState.down = not _LimiterState.down, True
        if first:
            log.error("rate limiter unavailable (%s); requests are let through until it "
                      "answers again", type(exc).__name__)
        return 0.0
    if _LimiterState.down:
        with _LimiterState.lock:
            back, _LimiterState.down = _LimiterState.down, False
        if back:
            log.warning("rate limiter reachable again; limits apply")
    return wait


def body_sha256(request: Request) -> str | None:
    """The SHA-256 of the body `read_body` read for this request, if it read one."""
    body = getattr(request.state, "body", None)
    return hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else None


def audit_refusal(hub: HubContext, channel: str, exc: HubError, *, actor: str | None = None,
                  source: str = "unknown", where: str = "", sha256: str | None = None) -> None:
    """Audit a refused request: who, why, where from, the organisations the caller serves
    and the body's SHA-256; never the payload (floods are summed: hub/refusals.py). Never
    raises: a refusal is answered even when the audit store is down (and that is logged)."""
    hub.metrics.rejected.labels(exc.code, channel).inc()
    if hub.refusals is None:
        return
    caller = hub.directory.system(actor) if actor else None
    try:
        hub.refusals.refuse(channel, exc, actor=actor, source=source, where=where,
                            sha256=sha256,
                            organizations=caller.organizations if caller is not None else ())
    except HubError:
        log.exception("could not audit a refusal (%s)", exc.code)


class HeaderLimits:
    """ASGI middleware: too many request headers, or too large, get 431 before any route.

    The server has parsed them already; refusing here keeps them from reaching handlers,
    logs and the audit, and tells the caller plainly.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers", [])
            size = sum(len(k) + len(v) for k, v in headers)
            if len(headers) > self.limits.max_headers or size > self.limits.max_header_bytes:
                await self._refuse(scope, send, len(headers), size)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, count: int, size: int) -> None:
        exc = HeadersTooLarge(
            f"{count} request headers of {size} bytes in all; the hub takes at most "
            f"{self.limits.max_headers} headers and {self.limits.max_header_bytes} bytes",
            detail_vi=f"{count} tiêu đề, tổng {size} byte; tối đa {self.limits.max_headers} "
                      f"tiêu đề và {self.limits.max_header_bytes} byte")
        app = scope.get("app")
        hub = getattr(getattr(app, "state", None), "hub", None)
        if hub is not None:
            path = str(scope.get("path", ""))
            await asyncio.to_thread(
                audit_refusal, hub, "soap" if path.startswith("/soap") else "rest", exc,
                source=source_of(scope), where=f"{scope.get('method', '')} {path}")
        body = json.dumps(Problem.from_error(exc).as_dict()).encode()
        await send({"type": "http.response.start", "status": exc.http_status, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
