"""Running the hub: `serve`, `worker` and `demo`."""

from __future__ import annotations

import typer

from hub.cli.common import ConfigOpt, console, settings_from, setup_logging

app = typer.Typer()


@app.command()
def serve(
    config: ConfigOpt = None,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, help="port to listen on"),
    workers: int = typer.Option(1, min=1, help="server processes (production mode only)"),
) -> None:
    """REST + SOAP; runs an in-process worker in embedded mode."""
    import os

    import uvicorn

    from hub.app import create_app

    setup_logging()
    settings = settings_from(config)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if settings.embedded:
        console.print("[red]--workers needs production mode[/red] (LIENTHONG_DATABASE_URL and "
                      "LIENTHONG_REDIS_URL): embedded processes would not share a broker")
        raise typer.Exit(2)
    if config is not None:
        os.environ["LIENTHONG_CONFIG"] = str(config)  # each process reads the same file
    uvicorn.run("hub.app:app_from_environment", factory=True, workers=workers, host=host,
                port=port, log_level="info")


@app.command()
def worker(config: ConfigOpt = None) -> None:
    """A delivery worker (dramatiq) for production mode."""
    from hub.worker import run_worker

    setup_logging()
    run_worker(settings_from(config))


@app.command()
def demo(
    config: ConfigOpt = None,
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    exit_after: bool = typer.Option(False, "--exit", help="stop after the walkthrough"),
) -> None:
    """Embedded hub + simulated agency systems; sends real documents and statuses through."""
    from hub.demo import run_demo

    setup_logging("WARNING")
    run_demo(settings_from(config), host=host, port=port, keep_serving=not exit_after,
             console=console)
