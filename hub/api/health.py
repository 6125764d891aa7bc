"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.api.deps import Hub

router = APIRouter()


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the broker answer")
async def readyz(hub: Hub) -> JSONResponse:
    database = await run_in_threadpool(hub.db.ping)
    broker = await run_in_threadpool(hub.dispatcher.ping)
    ok = database and broker
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "database": database, "broker": broker},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(hub: Hub) -> Response:
    body = await run_in_threadpool(hub.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
