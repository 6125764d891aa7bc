"""Request dependencies: the hub context and the calling system."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from core.errors import PermanentError
from hub.context import HubContext
from routing.directory import System
from security.auth import authenticate_bearer


def get_hub(request: Request) -> HubContext:
    return request.app.state.hub  # type: ignore[no-any-return]


Hub = Annotated[HubContext, Depends(get_hub)]


async def get_system(
    hub: Hub, authorization: Annotated[str | None, Header()] = None
) -> System:
    """The caller, by API key (a hash and a dict lookup: no need to leave the event loop).

    Raises AuthenticationFailed, audited off the event loop since that writes.
    """
    try:
        return authenticate_bearer(hub.directory, authorization)
    except PermanentError as exc:
        await run_in_threadpool(hub.ingest.record_rejection, None, "rest", exc)
        raise


CallerSystem = Annotated[System, Depends(get_system)]
