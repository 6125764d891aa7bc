"""The admins' REST routes: reload the directory without a restart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.deps import Hub, require
from hub.api.problems import problem_response
from hub.reload import ADMIN, ReloadRefused
from security.auth import Caller

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
Admin = Annotated[Caller, Depends(require("admin"))]


class ChangesOut(BaseModel):
    added: int
    removed: int
    changed: int


class ReloadOut(BaseModel):
    status: str = Field(description="reloaded: the file's new contents are in force; "
                                    "unchanged: the file is the directory already in force")
    trigger: str
    process: str = Field(description="the process that reloaded (host:pid); the others "
                                     "follow at once in production (docs/operations.md)")
    old_sha256: str = Field(description="SHA-256 of the directory file in force before")
    sha256: str = Field(description="SHA-256 of the directory file in force now")
    organizations: ChangesOut
    systems: ChangesOut


@router.post("/reload", response_model=ReloadOut,
             responses={422: {"description": "directory_invalid: the file cannot be used; "
                                             "the directory in force stays"},
                        409: {"description": "directory_not_reloadable: the directory was "
                                             "not read from a file"}},
             summary="Reload the directory file now, validated whole first; audited")
async def reload_directory(hub: Hub, caller: Admin) -> object:
    if hub.reloader is None:  # pragma: no cover - every built context has one
        raise RuntimeError("no reloader")
    try:
        report = await run_in_threadpool(hub.reloader.reload, ADMIN, caller.actor)
    except ReloadRefused as exc:
        # answered here, not raised: its one audit event is `directory.reload_failed`
        return problem_response(exc)
    return JSONResponse(report.as_dict())
