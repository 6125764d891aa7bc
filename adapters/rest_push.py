"""REST push: POST the package to the receiver's URL, JSON or edXML as it asked."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from adapters.base import Capabilities, DeliveryResult, OutboundDelivery
from core.errors import AdapterMisconfigured, DeliveryRejected, TransientError
from routing.directory import Receive
from security.egress import Egress, EgressTimeout

# statuses worth trying again: the receiver is busy, overloaded or briefly broken
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


def delivery_headers(d: OutboundDelivery) -> dict[str, str]:
    """Headers that let a receiver de-duplicate and trace; non-ASCII values are %-encoded."""
    headers = {
        "Content-Type": d.media_type,
        "X-Lienthong-Message-Id": d.message_id,
        "X-Lienthong-Delivery-Id": d.delivery_id,
        "X-Lienthong-Kind": d.kind,
        "X-Lienthong-Sender": d.sender,
        "X-Lienthong-Recipient": d.recipient,
        "X-Lienthong-Attempt": str(d.attempt),
        "Idempotency-Key": d.delivery_id,
    }
    if d.document_id:
        headers["X-Lienthong-Document-Id"] = quote(d.document_id, safe=",/.-_")
    headers.update(d.endpoint.headers)
    headers.update(d.headers)
    return headers


class RestPushAdapter:
    name = "rest"
    capabilities = Capabilities(push=True, poll=False, forms=("json", "edxml"))
    options = None  # configured by receive.url, not receive.options

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured when `receive.url` is missing or not an http(s) URL."""
        url = receive.url
        if not url:
            # the adapter defaults to rest: a SOAP system that forgot `adapter: soap` lands here
            hint = "; it has receive.soap: is receive.adapter meant to be soap?" \
                if receive.soap else ""
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url is not set; REST push posts to it{hint}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url {url!r} is not an http(s) URL")

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        url = delivery.endpoint.url
        if not url:
            raise DeliveryRejected(f"system {delivery.system_id} has no push URL")
        egress = self._egress.for_system(delivery.system_id)
        try:
            response = egress.post(
                url,
                content=delivery.payload,
                headers=delivery_headers(delivery),
                timeout=delivery.endpoint.timeout_s or self._egress.default_timeout,
            )
        except EgressTimeout as exc:
            raise TransientError(f"timed out posting to {url}") from exc
        if 200 <= response.status_code < 300:
            return DeliveryResult(f"HTTP {response.status_code}")
        reason = f"HTTP {response.status_code} from {url}: {response.text[:200]}"
        if response.status_code in RETRYABLE:
            raise TransientError(reason)
        raise DeliveryRejected(reason)

    def close(self) -> None:
        pass
