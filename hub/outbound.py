"""The egress gateway wired into the hub: its calls in the metrics, its refusals in the audit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.settings import Settings
from hub.metrics import Metrics
from routing.directory import Directory
from security import audit
from security.egress import Egress, EgressRefusal, registered_destinations

log = logging.getLogger(__name__)

Record = Callable[[list[audit.PendingEvent]], None]


def build_egress(settings: Settings, directory: Directory, metrics: Metrics,
                 record: Record) -> Egress:
    """The gateway for this directory: each push system may reach only its own registered
    destinations. `record` appends audit events (the group-commit writer's `record`).

    Raises HubError (`egress_misconfigured`) when the CA bundle, client certificate or proxy
    in `settings.egress` cannot be used.
    """

    def on_denied(refusal: EgressRefusal) -> None:
        record([audit.PendingEvent("egress.denied", actor="egress",
                                   detail=refusal.as_detail())])

    return Egress(registered_destinations(directory.systems()), settings.egress,
                  default_timeout=settings.delivery.timeout_s,
                  observe=metrics.egress_call, on_denied=on_denied)
