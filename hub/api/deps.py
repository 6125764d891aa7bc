"""Request dependencies: the hub context and the calling system."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from core.errors import Forbidden
from hub.api.guard import identify
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
    system = identify(hub, Credentials("rest", authorization))
    request.state.caller = system.id
    return system


CallerSystem = Annotated[System, Depends(get_system)]


def _auditors_only_not_yet() -> None:
    """TEMPORARY, until people's roles exist: nobody is an auditor, so the audit routes
    refuse everyone. Replaced by the real role check when roles are merged."""
    raise Forbidden("this route is for auditors", code="role_forbidden",
                    detail_vi="Chức năng này chỉ dành cho kiểm toán viên")


# TEMPORARY: refuses everyone (403 role_forbidden); the real auditor check replaces it
Auditor = Annotated[None, Depends(_auditors_only_not_yet)]
