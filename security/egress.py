"""The egress gateway: the hub's single exit, the one way adapters reach anything outside.

An adapter asks for the scope of the delivery's system (`egress.for_system(system_id)`) and
sends through it; the gateway lets a request out only to an origin registered for that
system (its `receive.url`, its `receive.soap.wsdl`), resolves the name once, refuses
special addresses a name points at, keeps plain HTTP inside the internal zone, connects to
exactly the address it checked (through the upstream proxy when external), never follows
a redirect, and bounds every step with a timeout. Every refusal is reported to `on_denied`
(the hub writes it to the audit chain as `egress.denied`) and every call to `observe`
(the hub's metrics). Policy in security/egress_policy.py, connections in
security/egress_net.py.

    EgressDenied (PermanentError)      the destination is not allowed; `code` says why:
        egress_not_registered              not one of the system's registered origins
        egress_other_system                registered, but for another system
        egress_address_blocked             a loopback/private/link-local/... address
        egress_plain_http                  plain HTTP outside the internal zone
        egress_redirect                    the destination answered with a redirect
        egress_plain_smtp                  smtp:// (not smtps://) outside the internal zone
    EgressAnswerTooLarge (PermanentError)  the answer is over egress.max_answer_bytes
    EgressTimeout (TransientError)     no answer (or no name resolution) in time
    EgressUnreachable (TransientError) no connection, a broken one, a failed TLS handshake
                                       (`egress_tls_failed`) or a proxy that refused
    MailRefused (PermanentError)       the mail relay refused the message for good (5xx)
    MailDeferred (TransientError)      the mail relay said try later (4xx)

Mail (`send_mail`, security/egress_smtp.py) passes the same checks as HTTP: a relay
registered for the system (`smtp://` or `smtps://` in its `receive.url`), resolved once,
special addresses refused, plain `smtp://` only inside the internal zone, every step under
a timeout, refusals audited. It goes direct, never through the HTTP proxy.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpcore
import httpx

from core.errors import HubError, PermanentError, TransientError
from core.settings import Egress as EgressSettings
from routing.directory import System
from security.egress_net import (
    Answer,
    AnswerTooLarge,
    Pin,
    PinnedPool,
    Proxy,
    Resolver,
    SystemResolver,
    tls_context,
)
from security.egress_policy import Origin, Policy, Refusal, Route, Zone, ip_literal
from security.egress_smtp import send_mail

log = logging.getLogger(__name__)

USER_AGENT = "lienthong-egress/1"


class EgressDenied(PermanentError):
    http_status = 502
    code = "egress_denied"
    title = "Destination not allowed"


class EgressAnswerTooLarge(PermanentError):
    http_status = 502
    code = "egress_answer_too_large"
    title = "The destination's answer is too large"


class EgressTimeout(TransientError):
    code = "egress_timeout"
    title = "The destination did not answer in time"


class EgressUnreachable(TransientError):
    code = "egress_unreachable"
    title = "The destination cannot be reached"


class MailRefused(PermanentError):
    http_status = 502
    code = "mail_refused"
    title = "The mail relay refused the message"


class MailDeferred(TransientError):
    code = "mail_deferred"
    title = "The mail relay asked to try again later"


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


@dataclass(frozen=True)
class EgressRefusal:
    """One refused attempt, for the audit chain: never a payload, a query string or a key."""

    system: str
    destination: str
    code: str
    reason: str

    def as_detail(self) -> dict[str, str]:
        return {"system": self.system, "destination": self.destination, "code": self.code,
                "reason": self.reason}


# (destination origin or "unregistered", outcome, seconds on the network or None)
Observer = Callable[[str, str, float | None], None]
OnDenied = Callable[[EgressRefusal], None]


def origin(url: str) -> str:
    """scheme://host:port of a URL (the port explicit). Raises ValueError for a non-URL."""
    return str(Origin.of(url))


def registered_destinations(systems: Iterable[System]) -> dict[str, list[str]]:
    """Each push system's registered destinations: `receive.url` (for SOAP, the service
    address overriding the WSDL's) and `receive.soap.wsdl` when it is an http(s) URL."""
    out: dict[str, list[str]] = {}
    for system in systems:
        receive = system.receive
        if receive.mode != "push":
            continue
        urls = [receive.url] if receive.url else []
        if receive.soap is not None:
            urls.append(receive.soap.wsdl)
        out[system.id] = [u for u in urls if u.lower().startswith(
            ("http://", "https://", "smtp://", "smtps://", *STREAM_PREFIXES))]
    return out


# schemes a plugin may get a checked socket for (SystemEgress.connect): encrypted transports
# that are not HTTP; the socket carries the plugin's own protocol (docs/adapters.md)
STREAM_SCHEMES = ("sftp", "ssh")
STREAM_PREFIXES = tuple(f"{s}://" for s in STREAM_SCHEMES)


class SystemEgress:
    """The gateway as one system's deliveries see it: only that system's destinations."""

    def __init__(self, gateway: Egress, system_id: str) -> None:
        self._gateway = gateway
        self.system_id = system_id

    @property
    def default_timeout(self) -> float:
        return self._gateway.default_timeout

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
        """One request to one of this system's destinations.

        Raises EgressDenied (its code says why), EgressAnswerTooLarge, EgressTimeout,
        EgressUnreachable.
        """
        return self._gateway.send(self.system_id, method, url, content=content, params=params,
                                  headers=headers, timeout=timeout)

    def get(self, url: str, **kwargs: Any) -> EgressResponse:
        """A GET through the gateway; raises what `request` raises."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> EgressResponse:
        """A POST through the gateway; raises what `request` raises."""
        return self.request("POST", url, **kwargs)

    def connect(self, url: str, *, timeout: float | None = None) -> socket.socket:
        """A TCP connection, checked as a request is, to one of this system's registered
        `sftp://` or `ssh://` destinations, for a plugin whose protocol is not HTTP (the
        caller owns and closes the socket).

        Raises EgressDenied (the codes of `request`, or `egress_no_tunnel` when the
        destination is outside the internal zone and an upstream proxy is configured),
        EgressTimeout, EgressUnreachable.
        """
        return self._gateway.connect(self.system_id, url, timeout=timeout)

    def send_mail(self, url: str, *, sender: str, recipients: Sequence[str], message: bytes,
                  timeout: float | None = None) -> dict[str, tuple[int, bytes]]:
        """Hand a message to this system's mail relay (`smtp://` or `smtps://` URL); returns
        the recipients the relay refused while taking it for the others.

        Raises EgressDenied, EgressTimeout, EgressUnreachable, MailRefused (5xx, or every
        recipient refused), MailDeferred (4xx).
        """
        return self._gateway.send_mail(self.system_id, url, sender=sender,
                                       recipients=recipients, message=message,
                                       timeout=timeout)


class Egress:
    """Owns the outbound connection pool and each system's list of places it may go."""

    def __init__(
        self,
        destinations: Mapping[str, Iterable[str]] | None = None,
        settings: EgressSettings | None = None,
        *,
        default_timeout: float = 30.0,
        resolver: Resolver | None = None,
        observe: Observer | None = None,
        on_denied: OnDenied | None = None,
    ) -> None:
        """Raises HubError (`egress_misconfigured`) when the CA bundle, the client
        certificate or the proxy cannot be used."""
        self.settings = settings or EgressSettings()
        self.default_timeout = default_timeout
        self.policy = Policy(destinations or {}, Zone(self.settings.internal_networks,
                                                      self.settings.internal_domains))
        self._own_resolver = resolver is None
        self._resolver: Resolver = resolver or SystemResolver(self.settings.connect_timeout_s)
        self._observe = observe
        self._on_denied = on_denied
        s = self.settings
        try:
            password = os.environ.get(s.client_key_password_env) \
                if s.client_key_password_env else None
            context = tls_context(s.ca_bundle, s.client_cert, s.client_key, password)
            self._tls = context
            proxy = Proxy.parse(s.proxy_url) if s.proxy_url else None
        except (OSError, ssl.SSLError, ValueError, httpx.InvalidURL) as exc:
            raise HubError(f"egress: {exc}", code="egress_misconfigured") from exc
        self.proxy = proxy
        self._pool = PinnedPool(context, proxy, max_connections=s.max_connections,
                                max_keepalive=s.max_keepalive_connections)

    def set_destinations(self, destinations: Mapping[str, Iterable[str]]) -> None:
        """Replace every system's registered destinations at once (a directory reload):
        requests checked from now on are checked against these."""
        self.policy = Policy(destinations, self.policy.zone)

    def for_system(self, system_id: str) -> SystemEgress:
        """The scope an adapter sends one system's deliveries through."""
        return SystemEgress(self, system_id)

    def send(
        self,
        system_id: str,
        method: str,
        url: str,
        *,
        content: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> EgressResponse:
        """One request on behalf of `system_id`; see SystemEgress.request."""
        try:
            request = httpx.Request(method, url, params=params,
                                    headers={"User-Agent": USER_AGENT, **(headers or {})},
                                    content=content)
            target = Origin.of(request.url)
            if target.scheme not in ("http", "https"):
                raise ValueError(f"{target.scheme}: is for mail (send_mail)")
        except (httpx.InvalidURL, ValueError) as exc:
            raise self._refuse(system_id, str(url)[:200], "unregistered", Refusal(
                "egress_not_registered", f"system {system_id} may not reach {url!r}: not an "
                f"absolute http(s) URL ({exc})", f"{url!r} không phải địa chỉ http(s)")) from exc
        policy = self.policy  # one set of destinations for the whole request
        label = str(target) if policy.registered(target) else "unregistered"
        where = f"{target}{request.url.path}"
        refusal = policy.admit(system_id, target)
        if refusal is not None:
            raise self._refuse(system_id, where, label, refusal)
        started = time.monotonic()
        addresses = self._resolve(target, label, started)
        route = policy.vet(system_id, target, addresses)
        if isinstance(route, Refusal):
            raise self._refuse(system_id, where, label, route)
        answer = self._exchange(request, route, label, where, timeout or self.default_timeout)
        elapsed = time.monotonic() - started
        if 300 <= answer.status < 400:
            location = dict((k.lower(), v) for k, v in answer.headers).get(b"location", b"")
            raise self._refuse(system_id, where, label, _redirect(
                system_id, target, answer.status, location.decode("latin-1")), elapsed)
        self._observed(label, f"{answer.status // 100}xx", elapsed)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content,
                              request=request)

    def connect(self, system_id: str, url: str, *, timeout: float | None = None
                ) -> socket.socket:
        """A checked socket on behalf of `system_id`; see SystemEgress.connect."""
        try:
            target = Origin.of(url)
        except ValueError as exc:
            raise self._refuse(system_id, str(url)[:200], "unregistered", Refusal(
                "egress_not_registered", f"system {system_id} may not reach {url!r}: not an "
                f"absolute URL ({exc})", f"{url!r} không phải địa chỉ hợp lệ")) from exc
        policy = self.policy
        label = str(target) if policy.registered(target) else "unregistered"
        where = str(target)
        refusal = policy.admit(system_id, target, STREAM_SCHEMES)
        if refusal is not None:
            raise self._refuse(system_id, where, label, refusal)
        started = time.monotonic()
        addresses = self._resolve(target, label, started)
        route = policy.vet(system_id, target, addresses)
        if isinstance(route, Refusal):
            raise self._refuse(system_id, where, label, route)
        if self.proxy is not None and not route.internal:
            raise self._refuse(system_id, where, label, Refusal(
                "egress_no_tunnel",
                f"system {system_id} may not reach {target}: it is outside the internal zone "
                "and the hub leaves it only through the upstream proxy, which carries HTTP",
                f"hệ thống {system_id} không được kết nối tới {target}: ngoài vùng nội bộ chỉ "
                "đi qua proxy HTTP"))
        wait = min(self.settings.connect_timeout_s, timeout or self.default_timeout)
        last: OSError | None = None
        for address in route.addresses:
            try:
                sock = socket.create_connection((address, target.port), timeout=wait)
            except TimeoutError as exc:
                self._observed(label, "timeout", time.monotonic() - started)
                raise EgressTimeout(f"timed out connecting to {where}") from exc
            except OSError as exc:
                last = exc
                continue
            sock.settimeout(timeout or self.default_timeout)
            self._observed(label, "connected", time.monotonic() - started)
            return sock
        self._observed(label, "unreachable", time.monotonic() - started)
        raise EgressUnreachable(f"cannot reach {where}: {last}"[:500]) from last

    def send_mail(self, system_id: str, url: str, *, sender: str, recipients: Sequence[str],
                  message: bytes, timeout: float | None = None
                  ) -> dict[str, tuple[int, bytes]]:
        """One message on behalf of `system_id`; see SystemEgress.send_mail."""
        try:
            target = Origin.of(url)
            if target.scheme not in ("smtp", "smtps"):
                raise ValueError("not an smtp:// or smtps:// URL")
        except ValueError as exc:
            raise self._refuse(system_id, str(url)[:200], "unregistered", Refusal(
                "egress_not_registered", f"system {system_id} may not send mail to {url!r}: "
                f"{exc}", f"{url!r} không phải địa chỉ smtp:// hoặc smtps://")) from exc
        policy = self.policy
        label = str(target) if policy.registered(target) else "unregistered"
        refusal = policy.admit(system_id, target)
        if refusal is not None:
            raise self._refuse(system_id, str(target), label, refusal)
        started = time.monotonic()
        addresses = self._resolve(target, label, started)
        route = policy.vet(system_id, target, addresses)
        if isinstance(route, Refusal):
            raise self._refuse(system_id, str(target), label, route)
        try:
            refused = send_mail(route, self._tls, sender=sender, recipients=recipients,
                                message=message, timeout=timeout or self.default_timeout)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self._observed(label, "refused", time.monotonic() - started)
            error = MailDeferred if any(400 <= c < 500 for c in codes) else MailRefused
            raise error(f"{target} refused every recipient: {_smtp_answers(exc.recipients)}"
                        ) from exc
        except smtplib.SMTPResponseException as exc:
            self._observed(label, "refused", time.monotonic() - started)
            error = MailDeferred if 400 <= exc.smtp_code < 500 else MailRefused
            text = exc.smtp_error if isinstance(exc.smtp_error, str) \
                else exc.smtp_error.decode("utf-8", "replace")
            raise error(f"{target} answered {exc.smtp_code} {text[:200]}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # smtplib reports a read that timed out as a closed connection
            if _caused_by(exc, TimeoutError):
                self._observed(label, "timeout", time.monotonic() - started)
                raise EgressTimeout(f"timed out: mail to {target}") from exc
            self._observed(label, "unreachable", time.monotonic() - started)
            if _tls_failure(exc):
                raise EgressUnreachable(f"TLS with {target} failed: {exc}",
                                        code="egress_tls_failed") from exc
            raise EgressUnreachable(f"cannot reach {target}: {type(exc).__name__}: "
                                    f"{exc}"[:500]) from exc
        self._observed(label, "sent", time.monotonic() - started)
        return refused

    def _resolve(self, target: Origin, label: str, started: float) -> list[str]:
        if ip_literal(target.host) is not None:
            return [target.host]
        try:
            return list(self._resolver(target.host, target.port))
        except HubError:
            raise
        except (TimeoutError, concurrent.futures.TimeoutError) as exc:
            self._observed(label, "timeout", time.monotonic() - started)
            raise EgressTimeout(f"resolving {target.host} timed out") from exc
        except Exception as exc:  # noqa: BLE001 - any resolver failure: try again later
            self._observed(label, "unreachable", time.monotonic() - started)
            raise EgressUnreachable(f"cannot resolve {target.host}: {exc}") from exc

    def _exchange(self, request: httpx.Request, route: Route, label: str, where: str,
                  timeout: float) -> Answer:
        s = self.settings
        timeouts = {"connect": min(s.connect_timeout_s, timeout), "read": timeout,
                    "write": timeout, "pool": s.pool_timeout_s}
        pin = Pin(route.origin.host, route.origin.port, route.addresses,
                  via_proxy=self.proxy is not None and not route.internal)
        started = time.monotonic()
        try:
            return self._pool.exchange(request, pin, timeouts, s.max_answer_bytes)
        except httpcore.TimeoutException as exc:
            self._observed(label, "timeout", time.monotonic() - started)
            raise EgressTimeout(f"timed out: {request.method} {where}") from exc
        except AnswerTooLarge as exc:
            self._observed(label, "too_large", time.monotonic() - started)
            raise EgressAnswerTooLarge(f"{where}: {exc}") from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
                httpcore.UnsupportedProtocol, OSError) as exc:
            self._observed(label, "unreachable", time.monotonic() - started)
            if _tls_failure(exc):
                raise EgressUnreachable(f"TLS with {where} failed: {exc}",
                                        code="egress_tls_failed") from exc
            via = " through the proxy" if pin.via_proxy else ""
            raise EgressUnreachable(f"cannot reach {where}{via}: {type(exc).__name__}: "
                                    f"{exc}"[:500]) from exc

    def _refuse(self, system_id: str, where: str, label: str, refusal: Refusal,
                seconds: float | None = None) -> EgressDenied:
        """Report a refusal (log, metrics, audit) and return the error to raise."""
        log.warning("egress refused for system %s to %s: %s", system_id, where, refusal.code)
        self._observed(label, refusal.code, seconds)
        if self._on_denied is not None:
            try:
                self._on_denied(EgressRefusal(system_id, where, refusal.code, refusal.reason))
            except Exception:  # noqa: BLE001 - the refusal stands even if its record fails
                log.warning("egress refusal for system %s could not be audited", system_id,
                            exc_info=True)
        return EgressDenied(refusal.reason, code=refusal.code, detail_vi=refusal.reason_vi)

    def _observed(self, label: str, outcome: str, seconds: float | None) -> None:
        if self._observe is not None:
            try:
                self._observe(label, outcome, seconds)
            except Exception:  # noqa: BLE001 - metrics never break a delivery
                log.debug("egress metrics failed", exc_info=True)

    def close(self) -> None:
        self._pool.close()
        if self._own_resolver and isinstance(self._resolver, SystemResolver):
            self._resolver.close()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _smtp_answers(answers: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{who}: {code} {text.decode('utf-8', 'replace')[:100]}"
                     for who, (code, text) in sorted(answers.items()))[:500]


def _tls_failure(exc: BaseException) -> bool:
    """Whether a connection error comes from the TLS handshake (httpcore wraps the ssl error
    as the argument, the cause or the context, depending on where it happened)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or any(isinstance(a, ssl.SSLError) for a in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _redirect(system_id: str, target: Origin, status: int, location: str) -> Refusal:
    try:
        elsewhere = str(Origin.of(httpx.URL(str(target)).join(location))) if location else "?"
    except (ValueError, httpx.InvalidURL):
        elsewhere = "?"
    return Refusal(
        "egress_redirect",
        f"{target} answered HTTP {status}, a redirect to {elsewhere}; the hub follows no "
        f"redirect: correct system {system_id}'s address in the directory",
        f"{target} trả lời HTTP {status}, chuyển hướng tới {elsewhere}; trục không đi theo "
        f"chuyển hướng: cần sửa địa chỉ của hệ thống {system_id} trong danh bạ")
