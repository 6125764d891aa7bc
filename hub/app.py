"""create_app(settings): the FastAPI application with its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import hub
from core.settings import Settings
from hub.api import admin, audit, deadletters, health, links, overdue, problems, rest, soap
from hub.api.guard import HeaderLimits
from hub.api.routing_pin import PinRouting
from hub.context import HubContext
from hub.reload import install_sighup

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, context: HubContext | None = None) -> FastAPI:
    """Build the app. The hub's parts are built at start-up unless `context` is given."""
    settings = settings or (context.settings if context else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or HubContext.build(settings)
        app.state.hub = ctx
        ctx.start_checkpointer()
        if settings.embedded_worker:
            ctx.start_worker()
        ctx.start_reloader()
        restore_sighup = install_sighup(ctx.reloader) if ctx.reloader else (lambda: None)
        log.info("hub ready (%s mode)", "embedded" if settings.embedded else "production")
        try:
            yield
        finally:
            restore_sighup()
            if context is None:
                ctx.close()
            else:
                ctx.stop_worker()
                ctx.stop_checkpointer()
                if ctx.reloader is not None:
                    ctx.reloader.stop()

    app = FastAPI(
        title="lienthong",
        version=hub.__version__,
        description="Provincial interoperability hub: edXML (QCVN 102:2016) over REST and SOAP.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(PinRouting)
    app.add_middleware(HeaderLimits, limits=settings.limits)
    app.include_router(health.router)
    app.include_router(rest.router)
    app.include_router(soap.router)
    app.include_router(audit.router)
    app.include_router(overdue.router)
    app.include_router(admin.router)
    app.include_router(deadletters.router)
    app.include_router(links.router)
    return app


def app_from_environment() -> FastAPI:
    """The app built from LIENTHONG_CONFIG and LIENTHONG_* alone: the factory each of
    several server processes calls (`lienthong serve --workers N`)."""
    return create_app(Settings())
