"""Request dependencies: the hub context and the calling system."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from hub.api.guard import identify, source_of
from hub.context import HubContext
from routing.directory import System
from security.auth import Credentials


def get_hub(request: Request) -> HubContext:
    return request.app.state.hub  # type: ignore[no-any-return]


Hub = Annotated[HubContext, Depends(get_hub)]


async def get_system(
    request: Request, hub: Hub, authorization: Annotated[str | None, Header()] = None
) -> System:
    """The caller, by API key (a hash and a dict lookup: no need to leave the event loop).

    Raises AuthenticationFailed (audited by the problem handler, like every refusal).
    """
    system = identify(hub, Credentials("rest", authorization), source_of(request.scope))
    request.state.caller = system.id
    return system


CallerSystem = Annotated[System, Depends(get_system)]
