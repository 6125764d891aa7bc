"""Request dependencies: the hub context, and the caller admitted by each route's roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from core.errors import Forbidden
from hub.api.guard import identify, source_of
from hub.context import HubContext
from routing.directory import System
from security.auth import PERSON_ROLES, ROLES, SYSTEM, Caller, Credentials, may_be_person


def get_hub(request: Request) -> HubContext:
    return request.app.state.hub  # type: ignore[no-any-return]


Hub = Annotated[HubContext, Depends(get_hub)]

RoleCheck = Callable[..., Awaitable[Caller]]


def require(*roles: str) -> RoleCheck:
    """A dependency admitting callers with one of `roles` ("system" = a connected system;
    "auditor", "operator", "admin" = people). The function carries `roles`, so the
    declaration can be read back from the route.

    Raises ValueError at declaration for an unknown role; the dependency raises
    AuthenticationFailed (no, unknown, expired or revoked credentials) and Forbidden
    (`role_forbidden`), both audited by the problem handler with the caller as actor.
    """
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"roles must be some of {ROLES}, not {sorted(unknown) or 'none'}")
    admitted = frozenset(roles)

    async def caller(request: Request, hub: Hub,
                     authorization: Annotated[str | None, Header()] = None) -> Caller:
        credentials = Credentials("rest", authorization)
        source = source_of(request.scope)
        if may_be_person(credentials) or hub.settings.redis_url:
            # a database read (a person's token) or a Redis round trip (shared rate limits):
            # off the event loop
            found = await run_in_threadpool(identify, hub, credentials, source)
        else:  # a hash, a dict lookup and an in-process bucket
            found = identify(hub, credentials, source)
        request.state.caller = found.actor
        if not found.admitted(admitted):
            raise Forbidden(
                f"{request.method} {request.url.path} admits {', '.join(sorted(admitted))}; "
                f"the caller is {', '.join(sorted(found.roles))}",
                code="role_forbidden",
                detail_vi="Vai trò của bên gọi không được phép dùng chức năng này",
            )
        return found

    caller.roles = admitted  # type: ignore[attr-defined]
    return caller


EVERYONE = ROLES
PEOPLE = PERSON_ROLES


async def _system_of(caller: Annotated[Caller, Depends(require(SYSTEM))]) -> System:
    if caller.system is None:  # require("system") admits systems only
        raise Forbidden("only connected systems may call this", code="role_forbidden")
    return caller.system


# the connected system calling a route that admits systems only
CallerSystem = Annotated[System, Depends(_system_of)]


# the audit routes: for the security team
Auditor = Annotated[Caller, Depends(require("auditor"))]
