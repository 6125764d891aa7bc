"""Request dependencies: the hub context and the calling system."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from hub.context import HubContext
from routing.directory import System


def get_hub(request: Request) -> HubContext:
    return request.app.state.hub  # type: ignore[no-any-return]


Hub = Annotated[HubContext, Depends(get_hub)]


async def get_system(
    hub: Hub, authorization: Annotated[str | None, Header()] = None
) -> System:
    # authentication audits its failures, which writes to the database: off the event loop
    return await run_in_threadpool(hub.ingest.authenticate, authorization, "rest")


CallerSystem = Annotated[System, Depends(get_system)]
