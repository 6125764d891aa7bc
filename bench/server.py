"""The servers under test, each run in its own process by the benchmark driver."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def bare_app() -> FastAPI:
    """A FastAPI endpoint that only reads the body: the floor for any ingest endpoint."""
    app = FastAPI()

    @app.post("/bare")
    async def bare(request: Request) -> JSONResponse:
        raw = await request.body()
        return JSONResponse({"status": "accepted", "bytes": len(raw)}, status_code=202)

    return app


def hub_app() -> FastAPI:
    from bench.scenario import bench_directory
    from core.settings import Settings
    from hub.app import create_app
    from hub.context import HubContext

    settings = Settings(embedded_worker=False)
    ctx = HubContext.build(settings, directory=bench_directory())
    return create_app(settings, context=ctx)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["bare", "hub"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    factory = "bench.server:bare_app" if args.which == "bare" else "bench.server:hub_app"
    uvicorn.run(factory, factory=True, workers=args.processes, host="127.0.0.1",
                port=args.port, log_level="warning", access_log=False,
                http=os.environ.get("BENCH_HTTP", "auto"))


if __name__ == "__main__":
    main()
