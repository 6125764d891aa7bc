"""The national document exchange platform (VDXP, 000.00.00.G22): send, poll, fetch, acknowledge.

The platform speaks REST with its control fields in HTTP headers, as the national SDK does
(`from`, `servicetype`, `messagetype`, `docId`, `status`): `sendEdoc` takes the `.edxml` as a
multipart upload, `getReceivedEdocList` lists what waits for the province (documents with
`messagetype: edoc`, business statuses with `messagetype: status`), `getEdoc` returns one
package (base64 in `data`), and `updateStatus` is the transport receipt (`done` or `fail`).
Every answer is JSON: `{"status": "OK" | "FAIL", "ErrorCode", "ErrorDesc", ...}`.

Each request is signed: headers `systemid`, `timestamp` (ddMMyyyyTHHmmss+SSSS) and
`signature`, the hex HMAC-SHA256, keyed with the system's secret, of systemid + timestamp +
Content-Type + the body's bytes. The system id is `receive.options.system_id`; the secret is
read from the environment variable named by `receive.options.secret_env`, never from the
directory. Everything goes through the egress gateway in the vdxp system's scope.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import Capabilities, DeliveryResult, Fetched, Inbound, OutboundDelivery
from core.errors import AdapterMisconfigured, DeliveryRejected, PermanentError, TransientError
from routing.directory import Receive
from security.egress import Egress, EgressResponse, EgressTimeout

# statuses worth trying again: the platform is busy, overloaded or briefly broken
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
EDOC, STATUS = "edoc", "status"
_KINDS = {EDOC: "document", STATUS: "status"}


def timestamp(now: dt.datetime | None = None) -> str:
    """The platform's request time format: ddMMyyyyTHHmmss+SSSS (milliseconds, 4 digits)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%d%m%YT%H%M%S") + f"+{now.microsecond // 1000:04d}"


def signature(system_id: str, secret: str, stamp: str, content_type: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of systemid + timestamp + Content-Type + body, keyed by `secret`."""
    message = (system_id + stamp + content_type).encode("utf-8") + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def multipart(name: str, filename: str, content: bytes, media_type: str) -> tuple[bytes, str]:
    """One file as a multipart/form-data body; returns the body and its Content-Type."""
    boundary = "lienthong-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n").encode("ascii")
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii"), \
        f"multipart/form-data; boundary={boundary}"


class VdxpOptions(BaseModel):
    """`receive.options` of the national platform's system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system_id: str = Field(min_length=1)  # the province's id at the platform
    secret_env: str = Field(min_length=1)  # the variable holding the signing secret


class VdxpAdapter:
    """Delivers to the national platform and polls it (adapters/base.py Poller)."""

    name = "vdxp"
    options = VdxpOptions
    capabilities = Capabilities(push=True, poll=True, forms=("edxml",))

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    # -- configuration ------------------------------------------------------------------
    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured naming the system and the field: `receive.url` not an
        http(s) URL, `receive.format` not edxml, `receive.options.system_id` or
        `receive.options.secret_env` missing, or that variable not set."""
        parts = urlsplit(receive.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AdapterMisconfigured(f"system {system_id}: receive.url {receive.url!r} is not "
                                       "the platform's http(s) address")
        if receive.format != "edxml":
            raise AdapterMisconfigured(f"system {system_id}: receive.format must be edxml; the "
                                       "national platform carries .edxml packages only")
        for key in ("system_id", "secret_env"):
            if not receive.options.get(key):
                raise AdapterMisconfigured(f"system {system_id}: receive.options.{key} is not "
                                           "set; the platform signs every request with it")
        env = receive.options["secret_env"]
        if not os.environ.get(env):
            raise AdapterMisconfigured(f"system {system_id}: receive.options.secret_env names "
                                       f"{env}, which is not set in the environment")

    # -- sending ------------------------------------------------------------------------
    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """Upload the edXML package (`sendEdoc`). Raises TransientError (timeouts, busy,
        broken), DeliveryRejected (the platform refused the package or the signature)."""
        messagetype = STATUS if delivery.kind == "status" else EDOC
        content, content_type = multipart("file", f"{delivery.message_id}.edxml",
                                          delivery.payload, "application/xml")
        headers = {"from": delivery.sender, "servicetype": "eDoc", "messagetype": messagetype,
                   "Idempotency-Key": delivery.delivery_id}
        answer = self._call(delivery.system_id, delivery.endpoint, "sendEdoc", content,
                            content_type, headers, rejected=DeliveryRejected)
        return DeliveryResult(f"platform DocId {answer.get('DocId', '?')}")

    # -- polling ------------------------------------------------------------------------
    def poll(self, system_id: str, receive: Receive) -> list[Inbound]:
        """Documents, then statuses, waiting at the platform for the province."""
        items: list[Inbound] = []
        for messagetype in (EDOC, STATUS):
            answer = self._call(system_id, receive, "getReceivedEdocList", b"{}",
                                "application/json",
                                {"servicetype": "eDoc", "messagetype": messagetype})
            for entry in answer.get("data") or []:
                if not isinstance(entry, dict) or not entry.get("id"):
                    continue
                items.append(Inbound(ref=str(entry["id"]), kind=_KINDS[messagetype],
                                     note=f"from {entry.get('from', '?')}"))
        return items

    def fetch(self, system_id: str, receive: Receive, item: Inbound) -> Fetched:
        """One package (`getEdoc`). Raises PermanentError when the answer holds no package."""
        answer = self._call(system_id, receive, "getEdoc", b"{}", "application/json",
                            {"docId": item.ref, "filePath": "xml"})
        try:
            payload = base64.b64decode(str(answer.get("data") or ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PermanentError(f"the platform's package {item.ref} is not base64",
                                 code="vdxp_bad_package") from exc
        if not payload:
            raise PermanentError(f"the platform returned no package for {item.ref}",
                                 code="vdxp_bad_package")
        return Fetched(item.ref, item.kind, payload, "application/xml")

    def acknowledge(self, system_id: str, receive: Receive, item: Inbound, result: str,
                    reason: str = "") -> None:
        """The transport receipt (`updateStatus` done | fail, the reason in the body)."""
        body = json.dumps({"reason": reason[:500]}, ensure_ascii=False).encode("utf-8")
        self._call(system_id, receive, "updateStatus", body, "application/json",
                   {"docId": item.ref, "status": result})

    # -- one signed call ----------------------------------------------------------------
    def _call(self, system_id: str, receive: Receive, operation: str, body: bytes,
              content_type: str, headers: dict[str, str],
              rejected: type[PermanentError] = PermanentError) -> dict[str, Any]:
        url = (receive.url or "").rstrip("/") + "/" + operation
        platform_id = receive.options.get("system_id", "")
        secret = os.environ.get(receive.options.get("secret_env", ""), "")
        if not platform_id or not secret:
            raise AdapterMisconfigured(f"system {system_id}: the platform's system id or "
                                       "secret is not configured")
        stamp = timestamp()
        signed = {**headers, "Content-Type": content_type, "systemid": platform_id,
                  "timestamp": stamp,
                  "signature": signature(platform_id, secret, stamp, content_type, body)}
        egress = self._egress.for_system(system_id)
        try:
            response = egress.post(url, content=body, headers=signed,
                                   timeout=receive.timeout_s or self._egress.default_timeout)
        except EgressTimeout as exc:
            raise TransientError(f"timed out calling {operation} at the national "
                                 "platform") from exc
        return _answer(response, operation, rejected)

    def close(self) -> None:
        pass


def _answer(response: EgressResponse, operation: str,
            rejected: type[PermanentError]) -> dict[str, Any]:
    """The platform's JSON answer when it says OK. Raises TransientError (retryable HTTP
    status), `rejected` (any other refusal, with the platform's code and description)."""
    where = f"{operation} at the national platform"
    if response.status_code in RETRYABLE:
        raise TransientError(f"HTTP {response.status_code} from {where}")
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if 200 <= response.status_code < 300:
            raise TransientError(f"{where} answered something other than JSON")
        raise rejected(f"HTTP {response.status_code} from {where}: {response.text[:200]}")
    if 200 <= response.status_code < 300 and str(answer.get("status", "")).upper() == "OK":
        return answer
    raise rejected(f"{where} refused (HTTP {response.status_code}, "
                   f"{answer.get('ErrorCode', '?')}): {str(answer.get('ErrorDesc', ''))[:200]}")
