"""The message model: what the pipeline knows about a package once it is parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import FieldError


class Kind(StrEnum):
    DOCUMENT = "document"
    STATUS = "status"


class Form(StrEnum):
    """The two interchangeable forms of a package."""

    JSON = "json"
    EDXML = "edxml"

    @property
    def media_type(self) -> str:
        return "application/json" if self is Form.JSON else "application/xml"


class BusinessDocType(StrEnum):
    NEW = "0"
    REVOKE = "1"
    UPDATE = "2"
    REPLACE = "3"


STATUS_CODES = {
    "01": "arrived",
    "02": "rejected",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "completed",
    "13": "recalled by sender",
    "15": "recall/update agreed",
    "16": "recall/update refused",
}


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment as the pipeline sees it: never its content."""

    content_id: str
    name: str = ""
    content_type: str = ""
    size: int = 0


@dataclass(frozen=True)
class ResponseFor:
    organ_id: str
    document_id: str
    code: str = ""


@dataclass(frozen=True)
class Envelope:
    """A parsed, schema-valid package: the fields routing and storage need.

    `header` is the package's JSON form without attachment contents; the full package
    stays in the raw bytes, which are never modified.
    """

    kind: Kind
    form: Form
    sender: str
    recipients: tuple[str, ...]
    document_id: str | None = None
    business_doc_type: str = BusinessDocType.NEW.value
    subject: str = ""
    priority: int = 0
    response_for: ResponseFor | None = None
    status_code: str | None = None
    header: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[AttachmentInfo, ...] = ()
    warnings: tuple[FieldError, ...] = ()
    # the signature verdict (security/signatures), once the verify step has run
    signature: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """What the store keeps beside the raw bytes, as JSON."""
        out: dict[str, Any] = {
            "header": self.header,
            "attachments": [
                {
                    "contentId": a.content_id,
                    "name": a.name,
                    "contentType": a.content_type,
                    "size": a.size,
                }
                for a in self.attachments
            ],
            "warnings": [w.as_dict() for w in self.warnings],
        }
        if self.signature is not None:
            out["signature"] = self.signature
        return out
