"""The worker process: delivery threads on the shared broker, plus the outbox sweeper."""

from __future__ import annotations

import logging
import signal
import threading

from core.settings import Settings
from hub.context import HubContext
from hub.reload import install_sighup

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Deliver until SIGTERM or SIGINT. Raises HubError when the hub cannot be built."""
    if settings.embedded:
        log.warning("no LIENTHONG_REDIS_URL: this worker only sees its own in-process queue")
    ctx = HubContext.build(settings)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing in-flight deliveries", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ctx.start_worker()
    ctx.start_checkpointer()
    ctx.start_reloader()
    if ctx.reloader is not None:
        install_sighup(ctx.reloader)  # reload the directory, keep delivering
    log.info("worker started: %d threads, prefetch %d", settings.delivery.worker_threads,
             settings.delivery.queue_prefetch)
    try:
        stop.wait()
    finally:
        ctx.close()
