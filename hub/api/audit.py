"""The auditors' REST routes: search the audit trail, and check it end to end."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.deps import Auditor, Hub
from hub.auditing import verify_configured
from hub.context import HubContext
from security.audit import ChainReport
from security.audit_query import MAX_PAGE, AuditFilter, search

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    """One event as stored, hashes included, so that it can be checked elsewhere."""

    seq: int = Field(description="position in the chain")
    at: str = Field(description="when it was appended (UTC, ISO 8601)")
    event: str
    actor: str = Field(description="the system, the person, or `hub`")
    organizations: str = Field(description="organisation codes concerned, space-separated")
    message_id: str | None
    document_id: str | None
    delivery_id: str | None
    sha256: str | None = Field(description="SHA-256 of the raw package, where there is one")
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                                "null on the last one")


class NeighbourOut(BaseModel):
    seq: int
    message_id: str | None
    document_id: str | None


class BreakOut(BaseModel):
    seq: int = Field(description="where the break is (first position of a range)")
    last_seq: int | None = Field(description="last position of a range")
    kind: Literal["edited", "rewritten", "missing", "inserted", "moved", "truncated", "head",
                  "checkpoint", "overflow"]
    problem: str
    message_id: str | None
    document_id: str | None
    neighbours: list[NeighbourOut] = Field(default_factory=list,
                                           description="the events around a missing one")


class CheckpointOut(BaseModel):
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str
    source: str


class CheckpointsOut(BaseModel):
    verified: int = Field(description="signed checkpoints found to match the chain")
    signed: int = Field(description="checkpoints validly signed by a trusted key")
    last: CheckpointOut | None


class VerifyOut(BaseModel):
    ok: bool
    events: int
    last_seq: int
    head_hash: str
    checkpoints: CheckpointsOut
    breaks: list[BreakOut]
    notes: list[str]


@router.get("", response_model=AuditPageOut, summary="Audit events, filtered, in cursor pages")
async def audit_events(
    hub: Hub,
    _auditor: Auditor,
    since: Annotated[dt.datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[dt.datetime | None, Query(description="before this time")] = None,
    organization: Annotated[str | None, Query(
        description="one organisation code, as events recorded it (events keep the code "
                    "of their time, also after an organisation is merged)")] = None,
    actor: Annotated[str | None, Query(description="a system id, a person, or hub")] = None,
    message_id: str | None = None,
    document_id: str | None = None,
    event: Annotated[list[str] | None, Query(description="event names, or `delivery.*`")] = None,
    sha256: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{64}$")] = None,
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> dict[str, object]:
    f = AuditFilter(since=since, until=until, organization=organization, actor=actor,
                    message_id=message_id, document_id=document_id, events=tuple(event or ()),
                    sha256=sha256)
    return await run_in_threadpool(_page, hub, f, limit, cursor, order == "desc")


def _page(hub: HubContext, f: AuditFilter, limit: int, cursor: str | None,
          newest_first: bool) -> dict[str, object]:
    with hub.db.reading() as session:
        page = search(session, f, limit=limit, cursor=cursor, newest_first=newest_first)
    return {"items": [r.as_dict() for r in page.items], "next_cursor": page.next_cursor}


@router.get("/verify", response_model=VerifyOut,
            summary="Check the audit chain and its signed checkpoints end to end")
async def audit_verify(hub: Hub, _auditor: Auditor) -> dict[str, object]:
    report: ChainReport = await run_in_threadpool(verify_configured, hub.db, hub.settings)
    return report.as_dict()
