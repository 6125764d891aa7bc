"""ASGI middleware: each request keeps the routing snapshot in force when it arrived.

Authentication, the pipeline and the routers all ask `hub.routing.current()`; pinned here,
they get the same snapshot for the whole request even if a reload swaps it meanwhile
(the threads a request runs work in are started with its context, so they see it too).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class PinRouting:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = getattr(getattr(scope.get("app"), "state", None), "hub", None)
        if scope["type"] != "http" or hub is None:
            await self.app(scope, receive, send)
            return
        with hub.routing.pinned():
            await self.app(scope, receive, send)
