"""Hub to hub: forward a document or a status to another lienthong hub over its REST API.

The peer is a system of the directory whose `receive.url` is the peer hub's base address
(`https://lgsp.phutho.gov.vn`); documents go to `POST {url}/api/v1/documents`, statuses to
`POST {url}/api/v1/statuses`, the package's bytes unchanged. The hubs the package passed
through, this one last, travel in the `X-Lienthong-Hops` header (core/hops.py): the peer
shows them in its trace and refuses a package that already passed through it
(`federation_loop`, a refusal: the delivery becomes a dead letter). The peer knows this hub
as one of its systems by the API key it gave this hub (`receive.hub.api_key_env` names the
environment variable holding it); the client certificate the egress gateway presents
(settings `egress.client_cert`) gets it through a peer that demands mutual TLS.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from adapters.base import Capabilities, DeliveryResult, OutboundDelivery
from adapters.rest_push import RETRYABLE, delivery_headers
from core.errors import AdapterMisconfigured, DeliveryRejected, TransientError
from core.hops import HOPS_HEADER, format_hops
from routing.directory import Receive
from security.egress import Egress, EgressTimeout

PATHS = {"document": "/api/v1/documents", "status": "/api/v1/statuses"}


class HubForwardAdapter:
    name = "hub"
    capabilities = Capabilities(push=True, poll=False, forms=("json", "edxml"))
    options = None  # configured by receive.url and its own section of receive

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured when `receive.url` is not an http(s) base address, or
        `receive.hub.api_key_env` is missing or names an environment variable that is not
        set (`hub_api_key_missing`)."""
        url = receive.url
        if not url:
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url is not set; it is the peer hub's address")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url {url!r} is not an http(s) URL")
        if parts.path.rstrip("/").endswith(tuple(PATHS.values())):
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url {url!r} names an endpoint; give the peer "
                "hub's base address, the adapter adds /api/v1/documents or /api/v1/statuses")
        env = receive.hub.api_key_env if receive.hub else None
        if not env:
            # the receiving hub knows its callers by key; a client certificate only opens
            # the TLS door
            raise AdapterMisconfigured(
                f"system {system_id}: receive.hub.api_key_env is not set; it names the "
                "environment variable holding the API key the peer hub gave this hub",
                code="hub_api_key_missing")
        if not os.environ.get(env):
            raise AdapterMisconfigured(
                f"system {system_id}: receive.hub.api_key_env names {env}, which is not set; "
                "it holds the API key the peer hub gave this hub",
                code="hub_api_key_missing")

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """POST the package to the peer hub. Raises TransientError when the peer is busy,
        down or slow, DeliveryRejected when it refuses the package (a loop, an unknown
        recipient, a key it does not know), the gateway's errors as they come."""
        base = delivery.endpoint.url
        path = PATHS.get(delivery.kind)
        if not base or path is None:
            raise DeliveryRejected(f"system {delivery.system_id}: no peer hub address, or a "
                                   f"{delivery.kind} the hub API does not take")
        url = base.rstrip("/") + path
        headers = delivery_headers(delivery)
        if delivery.hops:
            headers[HOPS_HEADER] = format_hops(delivery.hops)
        env = delivery.endpoint.hub.api_key_env if delivery.endpoint.hub else None
        key = os.environ.get(env) if env else None
        if env and not key:
            raise TransientError(f"system {delivery.system_id}: {env} is not set")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        egress = self._egress.for_system(delivery.system_id)
        try:
            response = egress.post(url, content=delivery.payload, headers=headers,
                                   timeout=delivery.endpoint.timeout_s
                                   or self._egress.default_timeout)
        except EgressTimeout as exc:
            raise TransientError(f"timed out posting to {url}") from exc
        if 200 <= response.status_code < 300:
            return DeliveryResult(f"HTTP {response.status_code}: {_peer_id(response.content)}")
        code = _problem_code(response.content)
        reason = f"HTTP {response.status_code} from {url}" + (f" ({code})" if code else "") \
            + f": {response.text[:200]}"
        if response.status_code in RETRYABLE:
            raise TransientError(reason)
        raise DeliveryRejected(reason, code=code or None)

    def close(self) -> None:
        pass


def _json(content: bytes) -> dict[str, object]:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _peer_id(content: bytes) -> str:
    answer = _json(content)
    return f"peer message {answer.get('id', '?')} ({answer.get('status', '?')})"


def _problem_code(content: bytes) -> str:
    code = _json(content).get("code")
    return code if isinstance(code, str) and code.isidentifier() else ""
