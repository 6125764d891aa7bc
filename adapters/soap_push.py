"""SOAP push: call an operation of the receiver's own SOAP service (zeep, through the egress).

The receiver's WSDL, operation, service and port come from `receive.soap` in the directory;
`receive.url`, when set, overrides the service address the WSDL names. The package goes in
the operation's first base64Binary field (byte-exact), else its first string field (the
package as text), else its xsd:any (the package as XML), a required field before an
optional one; a `MediaType` field, if the
operation has one, gets the package's media type. A status goes to `SendStatus` when the
service has one and the configured operation is the default `SendDocument`.

Client/Sender faults and 4xx answers are refusals (DeliveryRejected); Server/Receiver
faults, 5xx, timeouts and broken connections are worth trying again (TransientError).
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken
from zeep.xsd.elements.any import Any as AnyElement
from zeep.xsd.types.builtins import Base64Binary, String

from adapters.base import Capabilities, DeliveryResult, OutboundDelivery
from adapters.rest_push import RETRYABLE, delivery_headers
from core.errors import AdapterMisconfigured, DeliveryRejected, HubError, TransientError
from routing.directory import Receive, SoapEndpoint
from schemas.xmlparser import parse_xml
from security.egress import (
    Egress,
    EgressResponse,
    EgressTimeout,
    EgressUnreachable,
    SystemEgress,
    origin,
)

log = logging.getLogger(__name__)

# bounds for what a receiver sends back (its WSDL and schemas, its replies)
REPLY_LIMITS = {"max_depth": 128, "max_attributes": 64, "max_bytes": 16 * 1024 * 1024}
PACKAGE_LIMITS = {"max_depth": 128, "max_attributes": 64, "max_bytes": 64 * 1024 * 1024}
# fault codes (local part, before any dotted refinement) that mean "never"
REFUSED = {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}
ZEEP_SETTINGS = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True,
                              forbid_entities=True, forbid_external=True)

# HTTP headers for the call in progress on this thread
_CALL_HEADERS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "soap_push_headers", default=MappingProxyType({}))


class EgressTransport(Transport):
    """zeep's transport with all HTTP through the egress gateway, in the receiving system's
    scope: the WSDL, its imports and the service address it names must all be that system's
    registered destinations (a WSDL naming another system's address is refused by the
    gateway, `egress_other_system`).

    Documents are loaded only from where the configured WSDL lives (its origin, or its
    directory for a local file); every byte received passes the hub's hardened parser
    before zeep parses it.
    """

    def __init__(self, egress: SystemEgress, wsdl: str, timeout: float) -> None:
        # the base class would open a requests session that nothing here uses
        self.cache = None
        self.load_timeout = timeout
        self.operation_timeout = timeout
        self.logger = log
        self._close_session = False
        self._egress = egress
        self._wsdl = wsdl
        self._local = urlsplit(wsdl).scheme in ("", "file")

    def _guard(self, content: bytes, what: str) -> None:
        try:
            parse_xml(content, **REPLY_LIMITS)
        except HubError as exc:
            raise DeliveryRejected(f"{what} is not acceptable XML: {exc.detail}",
                                   code=exc.code) from exc

    def load(self, url: str) -> bytes:
        if self._local:
            content = self._load_file(url)
        else:
            if origin(url) != origin(self._wsdl):
                raise DeliveryRejected(
                    f"the WSDL at {self._wsdl} refers to {url}; documents are loaded only "
                    "from the WSDL's own server", code="soap_wsdl_external")
            response = self._egress.get(url, timeout=self.load_timeout)
            if response.status_code != 200:
                raise TransientError(f"HTTP {response.status_code} loading {url}")
            content = response.content
        self._guard(content, url)
        return content

    def _load_file(self, url: str) -> bytes:
        base = Path(urlsplit(self._wsdl).path).resolve().parent
        path = Path(urlsplit(url).path).resolve()
        if not path.is_relative_to(base):
            raise DeliveryRejected(f"{url} is outside the directory of {self._wsdl}",
                                   code="soap_wsdl_external")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DeliveryRejected(f"cannot read {path}: {exc.strerror}",
                                   code="soap_wsdl_missing") from exc

    def post(self, address: str, message: bytes | str, headers: dict[str, str]
             ) -> EgressResponse:
        response = self._egress.post(
            address, content=message, headers={**_CALL_HEADERS.get(), **headers},
            timeout=self.operation_timeout)
        if response.content and "xml" in response.headers.get("content-type", "xml"):
            self._guard(response.content, f"the reply from {address}")
        return response

    def get(self, address: str, params: dict[str, str], headers: dict[str, str]
            ) -> EgressResponse:
        return self._egress.get(
            address, params=params, headers={**_CALL_HEADERS.get(), **headers},
            timeout=self.operation_timeout)

    def close(self) -> None:
        pass  # the egress gateway owns the connection pool


def _username_token(endpoint: SoapEndpoint) -> UsernameToken | None:
    """The receiver's WS-Security credentials, the password read from the environment.

    Raises DeliveryRejected when the configured variable is not set.
    """
    if not endpoint.username or not endpoint.password_env:
        return None
    password = os.environ.get(endpoint.password_env)
    if not password:
        raise DeliveryRejected(
            f"the SOAP password variable {endpoint.password_env} is not set",
            code="soap_credentials_missing")
    return UsernameToken(endpoint.username, password)


class SoapCall:
    """One receiver's service: its zeep client, bound to the configured port and address."""

    def __init__(self, egress: SystemEgress, endpoint: SoapEndpoint, address: str | None,
                 timeout: float) -> None:
        wsdl = endpoint.wsdl
        if urlsplit(wsdl).scheme in ("", "file"):
            wsdl = str(Path(urlsplit(wsdl).path).resolve())
        self.client = zeep.Client(wsdl, transport=EgressTransport(egress, wsdl, timeout),
                                  settings=ZEEP_SETTINGS, wsse=_username_token(endpoint))
        services = self.client.wsdl.services
        if not services:
            raise DeliveryRejected(f"the WSDL {endpoint.wsdl} describes no service")
        service = services.get(endpoint.service) if endpoint.service else \
            next(iter(services.values()))
        if service is None:
            raise DeliveryRejected(f"the WSDL has no service {endpoint.service!r}")
        port = service.ports.get(endpoint.port) if endpoint.port else \
            next(iter(service.ports.values()), None)
        if port is None:
            raise DeliveryRejected(f"the service has no port {endpoint.port or '(any)'!r}")
        self.binding = port.binding
        self.address = address or port.binding_options["address"]
        self.proxy = self.client.create_service(self.binding.name, self.address)

    def operation_for(self, kind: str, configured: str) -> str:
        operations = self.binding.all()
        if kind == "status" and configured == "SendDocument" and "SendStatus" in operations:
            return "SendStatus"
        if configured not in operations:
            raise DeliveryRejected(f"the service has no operation {configured!r}; it offers "
                                   f"{', '.join(sorted(operations))}")
        return configured

    def arguments(self, operation: str, payload: bytes, media_type: str
                  ) -> tuple[list[Any], dict[str, Any]]:
        """How the package fills the operation's input (see the module docstring)."""
        body = self.binding.get(operation).input.body
        kind = getattr(body, "type", None)
        fields: list[tuple[str, Any]] = list(getattr(kind, "elements", []) or [])
        if not fields:  # a bare part: the package is the whole body
            if isinstance(kind, Base64Binary):
                return [payload], {}
            if isinstance(kind, String):
                return [payload.decode("utf-8")], {}
        kwargs: dict[str, Any] = {}
        if any(name == "MediaType" for name, _ in fields):
            kwargs["MediaType"] = media_type
        for wanted in (Base64Binary, String):
            candidates = [(name, element) for name, element in fields
                          if name != "MediaType"
                          and isinstance(getattr(element, "type", None), wanted)]
            # a required field before an optional one: the package is never optional
            candidates.sort(key=lambda item: getattr(item[1], "min_occurs", 1) < 1)
            if candidates:
                name = candidates[0][0]
                kwargs[name] = payload if wanted is Base64Binary else payload.decode("utf-8")
                return [], kwargs
        for name, element in fields:
            if isinstance(element, AnyElement):
                try:
                    kwargs[name] = parse_xml(payload, **PACKAGE_LIMITS)
                except HubError as exc:
                    raise DeliveryRejected(f"the package is not XML for {operation}'s "
                                           f"xsd:any: {exc.detail}") from exc
                kwargs.pop("MediaType", None)
                return [], kwargs
        raise DeliveryRejected(f"{operation} has no base64Binary, string or xsd:any field "
                               "to carry the package")


def _fault_error(fault: zeep.exceptions.Fault, where: str) -> HubError:
    code = (fault.code or "").rsplit("}", 1)[-1].rsplit(":", 1)[-1].split(".", 1)[0]
    reason = f"SOAP fault {fault.code or '(no code)'} from {where}: {fault.message}"[:1000]
    if code in REFUSED:
        return DeliveryRejected(reason)
    return TransientError(reason)


def _summary(result: Any) -> str:
    """A short note of what the receiver answered, for the attempt log."""
    if isinstance(result, str | int | float | bool):  # zeep unwraps a one-field reply
        return str(result)[:200]
    for name in ("MessageId", "Status", "Result"):
        try:
            value = result[name]
        except (KeyError, TypeError, IndexError, AttributeError):
            continue
        if value is not None:
            return f"{name}={value}"
    return ""


@contextmanager
def _headers(headers: dict[str, str]) -> Iterator[None]:
    token = _CALL_HEADERS.set(headers)
    try:
        yield
    finally:
        _CALL_HEADERS.reset(token)


class SoapPushAdapter:
    name = "soap"
    capabilities = Capabilities(push=True, poll=False, forms=("json", "edxml"))
    options = None  # configured by receive.url, receive.soap, not receive.options

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._calls: dict[tuple[Any, ...], SoapCall] = {}
        self._lock = threading.Lock()
        # one lock per endpoint: a slow WSDL holds up only deliveries to its own service
        self._loading: dict[tuple[Any, ...], threading.Lock] = {}

    def check(self, system_id: str, receive: Receive) -> None:
        """What can be known without the network: a SOAP endpoint whose WSDL is an http(s)
        URL or an existing local file, an http(s) `receive.url` if any, and the password
        variable set. The WSDL itself is loaded at the first delivery (a receiver that is
        down then is retried, not refused).

        Raises AdapterMisconfigured naming the system and the field.
        """
        endpoint = receive.soap
        if endpoint is None:
            raise AdapterMisconfigured(f"system {system_id}: receive.soap is not set; SOAP "
                                       "push needs the receiver's WSDL (receive.soap.wsdl)")
        wsdl = urlsplit(endpoint.wsdl)
        if wsdl.scheme in ("http", "https"):
            if not wsdl.netloc:
                raise AdapterMisconfigured(f"system {system_id}: receive.soap.wsdl "
                                           f"{endpoint.wsdl!r} names no server")
        elif wsdl.scheme in ("", "file"):
            if not wsdl.path or not Path(wsdl.path).is_file():
                raise AdapterMisconfigured(f"system {system_id}: receive.soap.wsdl "
                                           f"{endpoint.wsdl!r} is not a file")
        else:
            raise AdapterMisconfigured(f"system {system_id}: receive.soap.wsdl "
                                       f"{endpoint.wsdl!r} is neither an http(s) URL nor a file")
        if receive.url and (urlsplit(receive.url).scheme not in ("http", "https")
                            or not urlsplit(receive.url).netloc):
            raise AdapterMisconfigured(f"system {system_id}: receive.url {receive.url!r} "
                                       "(the service address) is not an http(s) URL")
        if endpoint.password_env and not os.environ.get(endpoint.password_env):
            raise AdapterMisconfigured(
                f"system {system_id}: the SOAP password variable {endpoint.password_env} "
                "(receive.soap.password_env) is not set", code="soap_credentials_missing")

    def _call(self, system_id: str, receive: Receive) -> SoapCall:
        """The cached client for a system's endpoint; the WSDL is fetched once.

        Raises TransientError when the WSDL cannot be fetched now, DeliveryRejected when it
        does not describe what the configuration names.
        """
        endpoint = receive.soap
        if endpoint is None:
            raise DeliveryRejected("the system receives by SOAP but has no soap endpoint")
        timeout = receive.timeout_s or self._egress.default_timeout
        key = (system_id, endpoint, receive.url, timeout)
        with self._lock:
            call = self._calls.get(key)
            if call is not None:
                return call
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            call = self._calls.get(key)
            if call is not None:
                return call
            where = endpoint.wsdl
            try:
                call = SoapCall(self._egress.for_system(system_id), endpoint, receive.url,
                                timeout)
            except EgressTimeout as exc:
                raise TransientError(f"timed out loading the WSDL {where}") from exc
            except EgressUnreachable as exc:
                raise TransientError(f"cannot reach the WSDL {where}: {exc.detail}") from exc
            except (zeep.exceptions.Error, etree.LxmlError, ValueError, KeyError) as exc:
                raise DeliveryRejected(f"the WSDL {where} cannot be used: {exc}",
                                       code="soap_wsdl_invalid") from exc
            with self._lock:
                self._calls[key] = call
            return call

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """Call the receiver's operation once. Raises TransientError or DeliveryRejected."""
        endpoint = delivery.endpoint
        call = self._call(delivery.system_id, endpoint)
        configured = endpoint.soap.operation if endpoint.soap else "SendDocument"
        operation = call.operation_for(delivery.kind, configured)
        args, kwargs = call.arguments(operation, delivery.payload, delivery.media_type)
        headers = {k: v for k, v in delivery_headers(delivery).items()
                   if k.lower() != "content-type"}
        where = call.address
        try:
            with _headers(headers):
                result = call.proxy[operation](*args, **kwargs)
        except zeep.exceptions.Fault as exc:
            raise _fault_error(exc, where) from exc
        except zeep.exceptions.TransportError as exc:
            reason = f"HTTP {exc.status_code} from {where} without a SOAP fault"
            if exc.status_code in RETRYABLE or exc.status_code >= 500:
                raise TransientError(reason) from exc
            raise DeliveryRejected(reason) from exc
        except zeep.exceptions.ValidationError as exc:
            raise DeliveryRejected(f"the package does not fit {operation}: {exc}") from exc
        except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
            raise TransientError(f"{where} answered with something that is not SOAP") from exc
        except EgressTimeout as exc:
            raise TransientError(f"timed out calling {operation} at {where}") from exc
        summary = _summary(result)
        return DeliveryResult(f"SOAP {operation} at {where} answered"
                              + (f" ({summary})" if summary else ""))

    def close(self) -> None:
        with self._lock:
            self._calls.clear()
            self._loading.clear()
