"""The egress gateway: the one way adapters reach anything outside the hub.

Every outbound HTTP request goes through one client whose destinations are checked against
an allowlist built from the directory (and configuration), never proxied by environment
variables, and logged by host.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from core.errors import PermanentError, TransientError

log = logging.getLogger(__name__)


class EgressDenied(PermanentError):
    http_status = 502
    code = "egress_denied"
    title = "Destination not allowed"


class EgressTimeout(TransientError):
    code = "egress_timeout"
    title = "The destination did not answer in time"


class EgressUnreachable(TransientError):
    code = "egress_unreachable"
    title = "The destination cannot be reached"


class EgressResponse(Protocol):
    """What an adapter reads of an answer (an httpx.Response satisfies it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class Egress:
    """Owns the outbound HTTP client and the list of places it may go."""

    def __init__(self, allowed_urls: Iterable[str], default_timeout: float = 30.0) -> None:
        self.allowed = {origin(u) for u in allowed_urls if u}
        self.default_timeout = default_timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def allow(self, url: str) -> None:
        self.allowed.add(origin(url))

    def _check(self, request: httpx.Request) -> None:
        target = origin(str(request.url))
        if target not in self.allowed:
            raise EgressDenied(f"egress to {target} is not allowed")

    def http_client(self) -> httpx.Client:
        """The shared, pooled client (thread-safe). Raises EgressDenied on a request to a
        destination outside the allowlist."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        trust_env=False,
                        follow_redirects=False,
                        timeout=self.default_timeout,
                        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                        event_hooks={"request": [self._check]},
                    )
        return self._client

    def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> EgressResponse:
        """One request through the gateway; adapters never hold a client of their own.

        Raises EgressDenied for a destination outside the allowlist, EgressTimeout when
        the destination does not answer in time, EgressUnreachable when the connection
        cannot be made or breaks.
        """
        kwargs: dict[str, Any] = {"content": content, "params": params, "headers": headers,
                                  "timeout": timeout or self.default_timeout}
        try:
            return self.http_client().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise EgressTimeout(f"timed out: {method} {url}") from exc
        except httpx.TransportError as exc:
            raise EgressUnreachable(f"cannot reach {url}: {type(exc).__name__}") from exc

    def get(self, url: str, **kwargs: Any) -> EgressResponse:
        """A GET through the gateway; raises what `request` raises."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> EgressResponse:
        """A POST through the gateway; raises what `request` raises."""
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
