"""The /soap endpoint: the WSDL on GET, operations on POST, every failure a SOAP fault."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from core.errors import AuthenticationFailed, HubError, PermanentError, RateLimited
from hub.api.deps import Hub
from hub.api.guard import audit_refusal, identify, read_body, source_of
from hub.api.soap import faults, reply
from hub.api.soap.envelope import read_envelope, version_for
from hub.api.soap.names import SOAP11, WSSE, SoapVersion
from hub.api.soap.operations import Call, handler_for
from hub.api.soap.wsdl import wsdl_document
from hub.api.soap.wssecurity import CHANNEL, credentials
from hub.context import HubContext
from security.auth import unknown_key

log = logging.getLogger(__name__)
router = APIRouter()
REALM = 'Basic realm="lienthong", charset="UTF-8"'


@dataclass
class Reply:
    status: int
    content: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(self.content, status_code=self.status, media_type=self.media_type,
                        headers=self.headers)


def fault_reply(hub: HubContext, version: SoapVersion, exc: HubError, *,
                challenge: bool = False, actor: str | None = None, source: str = "unknown",
                where: str = "") -> Reply:
    """The fault answering `exc`; a refusal is audited here, the one place for SOAP.

    Blocks on the audit write: call it off the event loop.
    """
    if exc.http_status >= 500:
        log.warning("SOAP call failed: %s (%s)", exc.code, exc.detail)
    if isinstance(exc, PermanentError):
        audit_refusal(hub, CHANNEL, exc, actor=actor, source=source, where=where)
    status = faults.http_status(exc, challenge)
    headers = {"WWW-Authenticate": REALM} if status == 401 else {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(int(exc.retry_after))
    return Reply(status, reply.envelope(version, faults.fault(version, exc)),
                 version.content_type, headers)


def _dispatch(hub: HubContext, raw: bytes, version: SoapVersion, action: str,
              authorization: str | None, source: str) -> Reply:
    try:
        request = read_envelope(raw, version, action, hub.settings.limits)
    except HubError as exc:
        return fault_reply(hub, version, exc, source=source)
    where = request.operation_name
    try:
        handler = handler_for(request)
        caller = identify(hub, credentials(request, authorization), source)
        system = caller.system
        if system is None:  # people do not use SOAP; authenticate never gives one here
            raise unknown_key()
    except AuthenticationFailed as exc:
        # challenge callers not using WS-Security, so clients that wait for one send Basic
        return fault_reply(hub, version, exc, where=where, source=source,
                           challenge=not request.header(WSSE, "Security"))
    except HubError as exc:
        return fault_reply(hub, version, exc, where=where, source=source)
    try:
        payload = handler(Call(hub, system, request))
    except HubError as exc:
        return fault_reply(hub, version, exc, actor=system.id, where=where, source=source)
    return Reply(200, reply.envelope(version, payload), version.content_type)


def handle(hub: HubContext, raw: bytes, version: SoapVersion, action: str,
           authorization: str | None, source: str = "unknown") -> Reply:
    """One SOAP call from its body bytes to its reply; never raises."""
    try:
        return _dispatch(hub, raw, version, action, authorization, source)
    except Exception:  # a bug must still answer with a fault, and be logged
        log.exception("SOAP call crashed")
        return fault_reply(hub, version,
                           HubError("an unexpected error occurred; it has been logged"))


@router.get("/soap", include_in_schema=False)
async def describe(request: Request) -> Response:
    query = {key.lower() for key in request.query_params}
    if query & {"wsdl", "singlewsdl"}:
        address = str(request.base_url).rstrip("/") + "/soap"
        document = await run_in_threadpool(wsdl_document, address)
        return Response(document, media_type="text/xml; charset=utf-8")
    return Response("lienthong SOAP service: the description is at /soap?wsdl\n",
                    media_type="text/plain; charset=utf-8")


@router.post("/soap", include_in_schema=False)
async def call(request: Request, hub: Hub) -> Response:
    headers = request.headers
    source = source_of(request.scope)
    try:
        version, action = version_for(headers.get("content-type"), headers.get("soapaction"))
    except HubError as exc:
        return (await run_in_threadpool(fault_reply, hub, SOAP11, exc, source=source)).response()
    try:
        raw = await read_body(request, hub.settings.limits)
    except HubError as exc:
        return (await run_in_threadpool(fault_reply, hub, version, exc, source=source)).response()
    result = await run_in_threadpool(handle, hub, raw, version, action,
                                     headers.get("authorization"), source)
    return result.response()
