"""GET /api/v1/overdue: recipients late under NĐ 30/2020, grouped by organisation.

Operators, auditors and admins see every late recipient; a connected system sees the late
recipients of the documents it sent (so it can chase them) and its own lateness.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.errors import ServiceUnavailable
from hub.api.deps import Hub, require
from hub.overdue import MAX_ROWS, OverdueFilter, overdue
from security.auth import Caller

OverdueReader = Annotated[Caller, Depends(require("system", "operator", "auditor", "admin"))]

router = APIRouter(prefix="/api/v1", tags=["deadlines"])


class LateOut(BaseModel):
    kind: Literal["receipt", "answer"] = Field(
        description="receipt: not confirmed the same working day; answer: not answered by "
                    "the document's DueDate")
    message_id: str
    delivery_id: str
    document_id: str | None
    subject: str
    sender: str = Field(description="the sending organisation")
    sender_system: str
    recipient: str = Field(description="the late organisation")
    system: str = Field(description="the system that receives for it")
    due_at: str = Field(description="when the duty fell due (UTC, ISO 8601)")
    flagged_at: str = Field(description="when the hub flagged it")
    late_by_s: int = Field(description="seconds since it fell due")


class OrganizationLateOut(BaseModel):
    organization: str
    name: str | None
    count: int
    late: list[LateOut]


class OverdueOut(BaseModel):
    as_of: str = Field(description="the hub's time of the listing")
    count: int
    truncated: bool = Field(description="more deliveries are late than `limit` admitted")
    organizations: list[OrganizationLateOut]


@router.get("/overdue", response_model=OverdueOut,
            summary="Recipients late under NĐ 30/2020, by organisation",
            description="Recipients that did not confirm receipt the same working day, or did "
                        "not answer by a document's DueDate, and still have not. People see "
                        "all; a system sees those of its own documents and its own.")
async def overdue_list(
    hub: Hub,
    caller: OverdueReader,
    organization: Annotated[str | None, Query(
        description="the late organisation's code (an alias or former code works)")] = None,
    kind: Literal["receipt", "answer"] | None = None,
    since: Annotated[dt.datetime | None, Query(
        description="only duties due at or after this moment (without a zone: the hub's "
                    "working calendar's, Asia/Ho_Chi_Minh by default)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="at most this many late "
                                                               "deliveries")] = 1000,
) -> dict[str, object]:
    keeper = hub.deadlines
    if keeper is None:  # HubContext.build always makes one; a hand-built context may not
        raise ServiceUnavailable("this hub keeps no deadlines", code="deadlines_unavailable",
                                 detail_vi="Trục không theo dõi thời hạn xử lý văn bản")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=keeper.calendar.zone)
    f = OverdueFilter(organization=organization, kind=kind, since=since)
    return await run_in_threadpool(overdue, hub.db, hub.directory, caller, f, keeper.clock(),
                                   limit)
