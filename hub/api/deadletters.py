"""The operators' REST routes for dead letters: list them, and send them again."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from hub.api.deps import Hub, require
from hub.context import HubContext
from hub.deadletters import (
    MAX_PAGE,
    DeadLetterFilter,
    replay_many,
    replay_matching,
    search,
)
from security.auth import Caller

router = APIRouter(prefix="/api/v1/deadletters", tags=["dead letters"])
Operator = Annotated[Caller, Depends(require("operator", "admin"))]


class DeadLetterOut(BaseModel):
    id: str = Field(description="the delivery's id")
    message_id: str
    document_id: str | None
    sender: str
    recipient: str
    system: str = Field(description="the system the delivery was for")
    attempts: int
    last_error: str | None
    finished_at: str | None = Field(description="when it became a dead letter (UTC)")


class DeadLetterPageOut(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                                "null on the last one")


class ReplayIn(BaseModel):
    """Either `ids`, or `all: true` with optional `system` and `recipient` filters."""

    ids: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    all: bool = False
    system: str | None = None
    recipient: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ReplayIn:
        if bool(self.ids) == self.all:
            raise ValueError("give either ids or all: true")
        if self.ids and (self.system or self.recipient):
            raise ValueError("system and recipient filter all: true; with ids they are "
                             "not used")
        return self


class ReplayResultOut(BaseModel):
    id: str
    result: Literal["replayed", "not_found", "not_a_dead_letter"]


class ReplayOut(BaseModel):
    replayed: int
    results: list[ReplayResultOut]


@router.get("", response_model=DeadLetterPageOut,
            summary="Dead letters, filtered, the most recent first, in cursor pages")
async def list_dead_letters(
    hub: Hub,
    _operator: Operator,
    system: str | None = None,
    recipient: Annotated[str | None, Query(description="organisation code")] = None,
    message: Annotated[str | None, Query(description="the hub's message id")] = None,
    since: Annotated[dt.datetime | None, Query(description="dead since (inclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> dict[str, object]:
    f = DeadLetterFilter(system=system, recipient=recipient, message=message, since=since)
    return await run_in_threadpool(_page, hub, f, limit, cursor)


def _page(hub: HubContext, f: DeadLetterFilter, limit: int,
          cursor: str | None) -> dict[str, object]:
    with hub.db.reading() as session:
        page = search(session, f, limit=limit, cursor=cursor)
    return {"items": [d.as_dict() for d in page.items], "next_cursor": page.next_cursor}


@router.post("/replay", response_model=ReplayOut,
             summary="Send dead letters again (by id, or all matching); audited")
async def replay_dead_letters(body: ReplayIn, hub: Hub, caller: Operator) -> dict[str, object]:
    if body.ids:
        results = await run_in_threadpool(replay_many, hub, body.ids, caller.actor)
    else:
        f = DeadLetterFilter(system=body.system, recipient=body.recipient)
        results = await run_in_threadpool(replay_matching, hub, f, caller.actor)
    return {"replayed": sum(1 for r in results.values() if r == "replayed"),
            "results": [{"id": k, "result": v} for k, v in results.items()]}
