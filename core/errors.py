"""The hub's exception tree; every error a client can see has a stable code.

    HubError                      root: anything the hub raises on purpose
    +-- PermanentError            bad input, bad identity, no route: never retried
    |   +-- AuthenticationFailed  401  no or unknown credentials
    |   +-- Forbidden             403  known system acting outside what it serves
    |   +-- PayloadTooLarge       413  body or attachment over a limit
    |   +-- HeadersTooLarge       431  too many request headers, or too large
    |   +-- RequestTimeout        408  a body that does not arrive in time
    |   +-- RateLimited           429  over a rate limit; Retry-After says when to come back
    |   +-- UnsupportedMediaType  415  a content type the endpoint does not take
    |   +-- MalformedInput        400  bytes that are not the declared syntax
    |   |   +-- SoapVersionMismatch    SOAP envelope of another version than announced
    |   +-- HostileInput          400  DTDs, entities, absurd depth: refused outright
    |   +-- ValidationFailed      422  well-formed but not a valid package
    |   +-- SignatureRefused      422  a signature missing, broken, or by an untrusted key
    |   |   +-- SignerNotSender   403  a good signature by someone the sender did not declare
    |   +-- UnknownRecipient      422  a recipient (or group) the directory does not know
    |   +-- RefusedByRule         422  refused by a routing rule (routing/rules.py); the
    |                                  rule chooses the code, refused_by_rule by default
    |   +-- UnknownDocument       422  a status for a document the hub never saw
    |   +-- NotFound              404  no such message / inbox item
    |   +-- Conflict              409  an operation that does not fit the current state
    |   |   +-- DocumentIdReused       a DocumentId already naming another document
    |   |                              (hub/ingest/deduplicate.py, where the rule lives)
    |   +-- SoapMustUnderstand         a mustUnderstand SOAP header the hub does not process
    |   +-- DeliveryRejected          the receiver refused for good (4xx): dead letter
    |   +-- AdapterMisconfigured      a system's `receive` does not suit its adapter: no start
    +-- TransientError            timeouts, 5xx, broken connections: retried
        +-- ServiceUnavailable    503  the database or broker is down

HTTP statuses and SOAP fault codes are assigned here, by class, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One offending field: where it is, what is wrong (English and Vietnamese)."""

    path: str
    message: str
    message_vi: str = ""
    line: int | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "message": self.message}
        if self.message_vi:
            out["message_vi"] = self.message_vi
        if self.line is not None:
            out["line"] = self.line
        return out


class HubError(Exception):
    """Root of everything the hub raises on purpose."""

    http_status = 500
    code = "internal_error"
    title = "Internal error"
    soap_fault = "Server"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        detail_vi: str = "",
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_vi = detail_vi
        if code is not None:
            self.code = code
        self.errors: list[FieldError] = list(errors or [])


class PermanentError(HubError):
    http_status = 400
    code = "bad_request"
    title = "Bad request"
    soap_fault = "Client"


class TransientError(HubError):
    http_status = 503
    code = "temporarily_unavailable"
    title = "Temporarily unavailable"


class AuthenticationFailed(PermanentError):
    http_status = 401
    code = "unauthenticated"
    title = "Authentication failed"
    # the identity the caller claimed, kept for the audit record of the refusal
    claimed: str | None = None


class Forbidden(PermanentError):
    http_status = 403
    code = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(PermanentError):
    http_status = 413
    code = "payload_too_large"
    title = "Payload too large"


class HeadersTooLarge(PermanentError):
    http_status = 431
    code = "headers_too_large"
    title = "Request header fields too large"


class RequestTimeout(PermanentError):
    http_status = 408
    code = "body_timeout"
    title = "Request timeout"


class RateLimited(PermanentError):
    """Over a rate limit: the request is refused, not queued; come back after `retry_after`."""

    http_status = 429
    code = "rate_limited"
    title = "Too many requests"
    retry_after: float = 1.0


class UnsupportedMediaType(PermanentError):
    http_status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class MalformedInput(PermanentError):
    http_status = 400
    code = "malformed"
    title = "Malformed input"


class SoapVersionMismatch(MalformedInput):
    """The envelope is not in the namespace of the SOAP version the request announced."""

    code = "soap_version_mismatch"
    soap_fault = "VersionMismatch"


class SoapMustUnderstand(PermanentError):
    """A header block marked mustUnderstand that the hub does not process."""

    code = "soap_must_understand"
    title = "Header not understood"
    soap_fault = "MustUnderstand"


class HostileInput(PermanentError):
    http_status = 400
    code = "xml_hostile"
    title = "Refused input"


class ValidationFailed(PermanentError):
    http_status = 422
    code = "validation_failed"
    title = "Validation failed"


class SignatureRefused(PermanentError):
    """A package signature the policy does not accept; `code` says precisely why."""

    http_status = 422
    code = "signature_invalid"
    title = "Signature refused"


class SignerNotSender(SignatureRefused):
    """A valid signature whose certificate does not belong to the sending organisation."""

    http_status = 403
    code = "certificate_not_sender"
    title = "Signer is not the sender"


class UnknownRecipient(PermanentError):
    http_status = 422
    code = "unknown_recipient"
    title = "Unknown recipient"


class RefusedByRule(PermanentError):
    """An explicit refusal by a routing rule, which `rule` names."""

    http_status = 422
    code = "refused_by_rule"
    title = "Refused by a routing rule"

    def __init__(self, detail: str, *, rule: str, code: str | None = None,
                 errors: list[FieldError] | None = None, detail_vi: str = "") -> None:
        super().__init__(detail, code=code, errors=errors, detail_vi=detail_vi)
        self.rule = rule


class UnknownDocument(PermanentError):
    http_status = 422
    code = "unknown_document"
    title = "Unknown document"


class NotFound(PermanentError):
    http_status = 404
    code = "not_found"
    title = "Not found"


class Conflict(PermanentError):
    http_status = 409
    code = "conflict"
    title = "Conflict"


class DeliveryRejected(PermanentError):
    http_status = 502
    code = "delivery_rejected"
    title = "Receiver refused the delivery"


class AdapterMisconfigured(PermanentError):
    """A push system's configuration cannot work with its adapter; found at start-up."""

    http_status = 500
    code = "adapter_misconfigured"
    title = "Adapter misconfigured"
    soap_fault = "Server"


class ServiceUnavailable(TransientError):
    http_status = 503
    code = "service_unavailable"
    title = "Service unavailable"


@dataclass
class Problem:
    """RFC 9457 problem details, built from any HubError."""

    status: int
    code: str
    title: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    detail_vi: str = ""

    @classmethod
    def from_error(cls, exc: HubError) -> Problem:
        return cls(
            status=exc.http_status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            detail_vi=exc.detail_vi,
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": f"https://lienthong.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.detail_vi:
            out["detail_vi"] = self.detail_vi
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        return out
