"""Errors at the HTTP boundary: every failure becomes RFC 9457 problem+json."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import FieldError, HubError, PermanentError, Problem, RateLimited
from hub.api.guard import audit_refusal, body_sha256, source_of

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem_response(exc: HubError) -> JSONResponse:
    problem = Problem.from_error(exc)
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(int(exc.retry_after))}
    return JSONResponse(problem.as_dict(), status_code=problem.status, media_type=PROBLEM,
                        headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        if exc.http_status >= 500:
            log.warning("request failed: %s (%s)", exc.code, exc.detail)
        hub = getattr(request.app.state, "hub", None)
        if isinstance(exc, PermanentError) and hub is not None:
            # the one place a REST refusal is audited; writing leaves the event loop
            await run_in_threadpool(
                audit_refusal, hub, "rest", exc, actor=getattr(request.state, "caller", None),
                source=source_of(request.scope), where=f"{request.method} {request.url.path}",
                sha256=body_sha256(request))
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError("/" + "/".join(str(p) for p in e.get("loc", ())), str(e.get("msg", "")))
            for e in exc.errors()
        ]
        err = HubError("the request is invalid", code="request_invalid", errors=errors)
        err.http_status, err.title = 422, "Invalid request"
        return problem_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        err = HubError(str(exc.detail), code=code)
        err.http_status, err.title = exc.status_code, str(exc.detail)
        return problem_response(err)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(HubError("an unexpected error occurred; it has been logged"))
