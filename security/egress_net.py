"""Connections to checked addresses only: name resolution, a pinned connection pool, the tunnel.

The gateway resolves a destination's name once, checks every address, and pins the request
to those addresses; the pool's network backend then connects only to a pinned address (or,
for an external destination, through the upstream proxy with `CONNECT address:port`). The
URL keeps its host name, so TLS sends it as SNI and verifies the certificate against it,
and the Host header names it: a name that answers differently on a second lookup (DNS
rebinding) never gets a second lookup. Nothing here reads the environment's proxy
variables.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import certifi
import httpcore
import httpx

# (host, port) -> addresses to try in order; raises TimeoutError or OSError
Resolver = Callable[[str, int], Sequence[str]]

MAX_PROXY_ANSWER = 16 * 1024


class SystemResolver:
    """socket.getaddrinfo in a small thread pool, so a resolver that hangs is bounded."""

    def __init__(self, timeout_s: float, workers: int = 4) -> None:
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="lienthong-egress-dns")

    def __call__(self, host: str, port: int) -> list[str]:
        """The host's addresses, in getaddrinfo's order of preference.

        Raises TimeoutError after timeout_s, OSError (socket.gaierror) when it has none.
        """
        future = self._pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = future.result(timeout=self.timeout_s)
        found: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in found:
                found.append(address)
        return found

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Pin:
    """The addresses one request may connect to, and whether to go through the proxy."""

    host: str
    port: int
    addresses: tuple[str, ...]
    via_proxy: bool


_PIN: ContextVar[Pin | None] = ContextVar("lienthong_egress_pin", default=None)


@contextlib.contextmanager
def pinned(pin: Pin) -> Iterator[None]:
    token = _PIN.set(pin)
    try:
        yield
    finally:
        _PIN.reset(token)


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """Raises ValueError for anything but http://[user:password@]host[:port]."""
        parsed = httpx.URL(url)
        if parsed.scheme != "http" or not parsed.host:
            raise ValueError("the proxy must be http://host:port")
        auth = None
        if parsed.username or parsed.password:
            pair = f"{unquote(parsed.username)}:{unquote(parsed.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(parsed.host, parsed.port or 80, auth)


class ProxyRefused(httpcore.ProxyError):
    """The upstream proxy would not open the tunnel."""


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to the addresses pinned for the request in progress."""

    def __init__(self, proxy: Proxy | None) -> None:
        self._proxy = proxy
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        pin = _PIN.get()
        if pin is None or pin.host != host.lower() or pin.port != port:
            # only reachable by a bug: never fall back to resolving the name here
            raise httpcore.ConnectError(f"no checked address for {host}:{port}")
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in pin.addresses:
            try:
                if pin.via_proxy and self._proxy is not None:
                    return self._tunnel(self._proxy, address, port, timeout)
                return self._tcp.connect_tcp(address, port, timeout=timeout,
                                             local_address=local_address,
                                             socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, httpcore.ProxyError) as exc:
                failure = exc
        raise failure

    def _tunnel(self, proxy: Proxy, address: str, port: int, timeout: float | None
                ) -> httpcore.NetworkStream:
        """A TCP tunnel through the proxy to the checked address (not the name: the proxy
        must not resolve it again). Raises ProxyRefused or httpcore network errors."""
        stream = self._tcp.connect_tcp(proxy.host, proxy.port, timeout=timeout)
        try:
            target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
            if proxy.authorization:
                lines.append(f"Proxy-Authorization: {proxy.authorization}")
            stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"), timeout=timeout)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = stream.read(4096, timeout=timeout)
                if not chunk:
                    raise ProxyRefused("the proxy closed the connection during CONNECT")
                answer += chunk
                if len(answer) > MAX_PROXY_ANSWER:
                    raise ProxyRefused("the proxy's answer to CONNECT is too long")
            head, _, rest = answer.partition(b"\r\n\r\n")
            status = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status.split(" ", 2)
            if len(parts) < 2 or not parts[1].startswith("2"):
                raise ProxyRefused(f"the proxy refused CONNECT {target}: {status[:100]}")
            if rest:
                raise ProxyRefused("the proxy sent data before the tunnel was used")
            return stream
        except BaseException:
            stream.close()
            raise

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("the egress gateway does not use unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class AnswerTooLarge(Exception):
    """The destination's answer is longer than the gateway takes."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes


class PinnedPool:
    """One HTTP/1.1 connection pool whose connections go only where a request is pinned."""

    def __init__(self, ssl_context: ssl.SSLContext, proxy: Proxy | None, *,
                 max_connections: int, max_keepalive: int) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=max_connections,
            max_keepalive_connections=max_keepalive, keepalive_expiry=30.0,
            http1=True, http2=False, retries=0, network_backend=PinnedBackend(proxy))

    def exchange(self, request: httpx.Request, pin: Pin, timeouts: dict[str, float],
                 max_bytes: int) -> Answer:
        """Send one request to a pinned address and read the whole answer.

        Raises httpcore's TimeoutException, NetworkError, ProtocolError or ProxyError, and
        AnswerTooLarge past `max_bytes`.
        """
        url = request.url
        core = httpcore.Request(
            method=request.method.encode("ascii"),
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw,
            content=request.read(),
            extensions={"timeout": timeouts},
        )
        with pinned(pin):
            response = self._pool.handle_request(core)
            try:
                body = bytearray()
                for chunk in response.stream:  # type: ignore[union-attr]
                    body += chunk
                    if len(body) > max_bytes:
                        raise AnswerTooLarge(f"the answer is longer than {max_bytes} bytes")
            finally:
                response.close()
        return Answer(response.status, list(response.headers), bytes(body))

    def close(self) -> None:
        self._pool.close()


def tls_context(ca_bundle: Path | None, client_cert: Path | None = None,
                client_key: Path | None = None, key_password: str | None = None
                ) -> ssl.SSLContext:
    """Certificates verified against `ca_bundle` (default certifi's), TLS 1.2 or later, and a
    client certificate for mutual TLS when given.

    Raises OSError or ssl.SSLError when a file is missing or unusable.
    """
    context = ssl.create_default_context(cafile=str(ca_bundle or certifi.where()))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        context.load_cert_chain(str(client_cert), str(client_key) if client_key else None,
                                password=key_password)
    return context
