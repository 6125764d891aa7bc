"""The REST API (JSON): submit documents and statuses, read messages, the pull inbox.

Every route declares the roles it admits (`hub.api.deps.require`): submissions and the inbox
are for connected systems; a message is read by its sender and recipient systems and by
people; the directory by any authenticated caller (docs/security.md has the table).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.hops import HOPS_HEADER, parse_hops
from core.model import Form, Kind
from hub.api.deps import EVERYONE, CallerSystem, Hub, require
from hub.api.guard import read_body
from hub.delivery.breaker import closed
from hub.query import message_view
from routing.directory import System
from schemas.jsonform import inlined_schema
from security.auth import Caller

# who reads a message: its sender and recipient systems (their view), and people (all of it)
MessageReader = Annotated[Caller, Depends(require("system", "operator", "auditor", "admin"))]
Anyone = Annotated[Caller, Depends(require(*EVERYONE))]

router = APIRouter(prefix="/api/v1")


class RecipientDelivery(BaseModel):
    recipient: str
    status: Literal["new", "already_sent"] = Field(
        description="new: this submission delivers to the recipient; already_sent: an "
                    "earlier package of the same document did, and it is not sent twice")
    rule: str | None = Field(
        default=None, description="the routing rule that added this recipient (an archive "
                                  "copy) or chose the system it is delivered through")
    via: str | None = Field(
        default=None, description="the system a routing rule delivers through (e.g. the "
                                  "national platform for a recipient outside the province)")


class RecipientGroup(BaseModel):
    code: str = Field(description="the group as the package named it, e.g. @all")
    name: str
    members: list[str] = Field(description="the units it reached (the sender's own left out)")
    unreachable: list[str] = Field(
        default_factory=list, description="listed members no system receives for: not sent")


class Accepted(BaseModel):
    id: str = Field(description="the hub's message id (a duplicate: the first message's)")
    kind: str
    document_id: str | None
    status: Literal["accepted", "duplicate"]
    recipients: list[str] = Field(
        description="every recipient that receives the document, now or already (recipient "
                    "groups expanded)")
    groups: list[RecipientGroup] = Field(
        default_factory=list, description="the recipient groups (To entries @name) the "
                                          "package named, and the units each reached")
    deliveries: list[RecipientDelivery] = Field(
        default_factory=list, description="each recipient and whether this submission "
                                          "delivers to it")
    supplement_to: str | None = Field(
        default=None, description="a supplement (the same document to further recipients): "
                                  "the document's first message")
    original: str | None = Field(
        default=None, description="an update, revocation, replacement, recall or status: "
                                  "the original document's message (docs/lifecycle.md)")
    warnings: list[dict[str, object]] = Field(
        default_factory=list, description="what was accepted with a warning, e.g. "
                                          "original_unknown: an update of a document the hub "
                                          "never carried, delivered to the units it lists")


class AckIn(BaseModel):
    result: Literal["done", "fail"]
    reason: str = Field(default="", max_length=1000)


async def _submit(request: Request, hub: Hub, system: System, kind: Kind) -> JSONResponse:
    raw = await read_body(request, hub.settings.limits)
    media_type = request.headers.get("content-type", "")
    # another lienthong hub names the hubs the package came through (core/hops.py)
    hops = parse_hops(request.headers.get(HOPS_HEADER))
    receipt = await run_in_threadpool(partial(hub.ingest.submit, hops=hops), system, raw,
                                      media_type, kind, "rest")
    status = 202 if receipt.status == "accepted" else 200
    return JSONResponse(receipt.as_dict(), status_code=status,
                        headers={"Location": f"/api/v1/messages/{receipt.id}"})


def request_body(kind: Kind) -> dict[str, Any]:
    """What a submission endpoint takes, for /openapi.json and /docs."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": inlined_schema(kind)},
        "application/xml": {"schema": {
            "type": "string",
            "description": f"an edXML {kind.value} package (QCVN 102:2016); see "
                           "schemas/edxml/edxml.xsd"}},
    }}}


RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": Accepted, "description": "stored; delivery follows"},
    200: {"model": Accepted, "description": "a duplicate: the first message's id"},
    409: {"description": "document_id_reused: the sender's DocumentId already names another "
                         "document (different content); federation_loop: the package already "
                         "passed through this hub (X-Lienthong-Hops, docs/federation.md); "
                         "nothing stored"},
}


@router.post("/documents", status_code=202, responses=RESPONSES,
             summary="Submit an e-document (JSON form or edXML)",
             openapi_extra=request_body(Kind.DOCUMENT))
async def submit_document(request: Request, hub: Hub, system: CallerSystem) -> JSONResponse:
    return await _submit(request, hub, system, Kind.DOCUMENT)


@router.post("/statuses", status_code=202, responses=RESPONSES,
             summary="Submit a status package for an earlier document",
             openapi_extra=request_body(Kind.STATUS))
async def submit_status(request: Request, hub: Hub, system: CallerSystem) -> JSONResponse:
    return await _submit(request, hub, system, Kind.STATUS)


@router.get("/messages/{message_id}", summary="A message, its deliveries, statuses and trace",
            description="For its sender and recipient systems (the participant view: other "
                        "recipients' states, not their errors or endpoints) and for auditors, "
                        "operators and admins (the full view).")
async def get_message(message_id: str, hub: Hub, caller: MessageReader) -> dict[str, object]:
    return await run_in_threadpool(message_view, hub.db, hub.settings, caller, message_id)


@router.get("/inbox", summary="Documents and statuses waiting for the caller")
async def inbox(
    hub: Hub, system: CallerSystem, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, object]:
    items = await run_in_threadpool(hub.inbox.pending, system, limit)
    return {"items": [i.as_dict() for i in items]}


def _wanted_form(accept: str | None) -> Form | None:
    if not accept:
        return None
    accept = accept.lower()
    if "xml" in accept and "json" not in accept:
        return Form.EDXML
    if "json" in accept and "xml" not in accept:
        return Form.JSON
    return None


@router.get("/inbox/{message_id}", summary="One waiting message, as edXML or JSON by Accept")
async def inbox_item(message_id: str, request: Request, hub: Hub,
                     system: CallerSystem) -> Response:
    body, form = await run_in_threadpool(
        hub.inbox.fetch, system, message_id, _wanted_form(request.headers.get("accept")))
    return Response(body, media_type=form.media_type,
                    headers={"X-Lienthong-Message-Id": message_id})


@router.post("/inbox/{message_id}/ack", summary="Transport receipt for a pulled message")
async def inbox_ack(message_id: str, ack: AckIn, hub: Hub,
                    system: CallerSystem) -> dict[str, object]:
    state = await run_in_threadpool(hub.inbox.ack, system, message_id, ack.result, ack.reason)
    return {"id": message_id, "state": state}


@router.get("/organizations", summary="The organisation directory")
async def organizations(
    hub: Hub,
    caller: Anyone,
    level: str | None = None,
    parent: str | None = None,
    q: str | None = None,
) -> dict[str, object]:
    orgs = hub.directory.organizations()
    if level:
        orgs = [o for o in orgs if o.level.value == level]
    if parent:
        orgs = [o for o in orgs if o.parent == parent]
    if q:
        needle = q.casefold()
        orgs = [o for o in orgs if needle in o.name.casefold() or needle in o.code.casefold()]
    directory = hub.directory
    health = await run_in_threadpool(hub.deliverer.breaker.health)
    items = []
    for o in orgs:
        item = o.model_dump(mode="json")
        system = directory.receiver_for(o.code)
        if system is not None and system.receive.mode == "push":
            # the receiving system's circuit breaker (docs/operations.md, Destination health)
            found = health.get(system.id)
            item["delivery_health"] = {"system": system.id, **(
                found.as_dict() if found is not None else closed(system.id).as_dict())}
        items.append(item)
    return {"items": items}
