"""The SOAP operations: each reads its request element and answers with its response element.

Request children are matched by local name, so a legacy client whose elements carry another
namespace is still understood; responses are always in the service's namespace.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from core.errors import FieldError, MalformedInput, NotFound, ValidationFailed
from core.model import Form, Kind
from hub.api.soap.envelope import SoapRequest
from hub.api.soap.names import EDXML, LT
from hub.context import HubContext
from hub.ingest.submission import Receipt
from hub.query import message_view
from routing.directory import System

CHANNEL = "soap"
BODY = "/Envelope/Body"


@dataclass(frozen=True)
class Call:
    hub: HubContext
    system: System
    request: SoapRequest

    @property
    def element(self) -> etree._Element:
        return self.request.operation

    def path(self, *names: str) -> str:
        return "/".join((BODY, self.request.operation_name, *names))


# -- reading the request ------------------------------------------------------------------
def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _invalid(call: Call, name: str, message: str, message_vi: str) -> ValidationFailed:
    return ValidationFailed(
        f"{call.request.operation_name}: {message}",
        code="soap_request_invalid",
        errors=[FieldError(call.path(name), message, message_vi,
                           line=call.element.sourceline)],
        detail_vi=f"{call.request.operation_name}: {message_vi}",
    )


def _text(call: Call, name: str, *, required: bool = False, default: str = "",
          choices: tuple[str, ...] = (), max_length: int = 1000) -> str:
    found = _children(call.element, name)
    if len(found) > 1:
        raise _invalid(call, name, f"{name} is given {len(found)} times",
                       f"{name} xuất hiện {len(found)} lần")
    value = (found[0].text or "").strip() if found else ""
    if not value:
        if required:
            raise _invalid(call, name, f"{name} is required", f"Thiếu {name}")
        return default
    if choices and value not in choices:
        raise _invalid(call, name, f"{name} must be one of {', '.join(choices)}",
                       f"{name} phải là một trong {', '.join(choices)}")
    if len(value) > max_length:
        raise _invalid(call, name, f"{name} is longer than {max_length} characters",
                       f"{name} dài hơn {max_length} ký tự")
    return value


# -- writing the response -----------------------------------------------------------------
def _response(call: Call) -> etree._Element:
    return etree.Element(f"{{{LT}}}{call.request.operation_name}Response", nsmap={"lt": LT})


def _add(parent: etree._Element, name: str, value: Any) -> etree._Element:
    child = etree.SubElement(parent, f"{{{LT}}}{name}")
    if value is not None:
        child.text = str(value)
    return child


def _add_optional(parent: etree._Element, name: str, value: Any) -> None:
    if value not in (None, ""):
        _add(parent, name, value)


def _organ_ids(parent: etree._Element, name: str, codes: list[str]) -> None:
    holder = _add(parent, name, None)
    for code in codes:
        _add(holder, "OrganId", code)


# -- submitting ---------------------------------------------------------------------------
def inline_package(request: SoapRequest, element: etree._Element) -> bytes:
    """An inline edXML element as a standalone document: the same elements, attributes, text
    and comments with the namespaces it uses declared on its root; not byte-identical to
    what the client serialised (that is what PackageBase64 is for)."""
    request.document.restore()
    detached = copy.deepcopy(element)
    detached.tail = None
    etree.cleanup_namespaces(detached)
    return etree.tostring(detached, encoding="utf-8", xml_declaration=True, with_tail=False)


def _package(call: Call) -> tuple[bytes, str]:
    inline = [c for c in call.element if c.tag == f"{{{EDXML}}}edXML"]
    encoded = _children(call.element, "PackageBase64")
    if len(inline) + len(encoded) != 1:
        raise _invalid(
            call, "PackageBase64",
            "send the package either inline (one edXML element) or as one PackageBase64",
            "Gửi gói tin hoặc trực tiếp (một phần tử edXML) hoặc một PackageBase64")
    if inline:
        return inline_package(call.request, inline[0]), "application/xml"
    chunks = call.request.document.content_chunks(encoded[0])
    text = b"".join(b"".join(chunk.split()) for chunk in chunks)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(
            "PackageBase64 is not valid base64", code="soap_bad_base64",
            errors=[FieldError(call.path("PackageBase64"), "not valid base64",
                               "không phải base64 hợp lệ", line=encoded[0].sourceline)],
            detail_vi="PackageBase64 không phải base64 hợp lệ",
        ) from exc
    media_type = _text(call, "MediaType", default="application/xml", max_length=100)
    return raw, media_type


def _receipt(call: Call, receipt: Receipt) -> etree._Element:
    out = _response(call)
    _add(out, "MessageId", receipt.id)
    _add(out, "Kind", receipt.kind.value)
    _add_optional(out, "DocumentId", receipt.document_id)
    _add(out, "Status", receipt.status)
    _organ_ids(out, "Recipients", receipt.recipients)
    _add_optional(out, "SupplementTo", receipt.supplement_to)
    if receipt.deliveries:
        holder = _add(out, "Deliveries", None)
        for d in receipt.deliveries:
            entry = _add(holder, "Delivery", None)
            _add(entry, "OrganId", d.recipient)
            _add(entry, "Status", d.status)
            _add_optional(entry, "Rule", d.rule)
            _add_optional(entry, "Via", d.via)
    if receipt.groups:
        holder = _add(out, "Groups", None)
        for group in receipt.groups:
            _group(holder, group)
    _add_optional(out, "Original", receipt.original)
    _warnings(out, [w.as_dict() for w in receipt.warnings])
    return out


def _group(parent: etree._Element, group: dict[str, Any]) -> None:
    entry = _add(parent, "Group", None)
    _add(entry, "Code", group["code"])
    _add(entry, "Name", group["name"])
    _organ_ids(entry, "Members", group["members"])


def _submit(call: Call, kind: Kind) -> etree._Element:
    raw, media_type = _package(call)
    receipt = call.hub.ingest.submit(call.system, raw, media_type, kind, CHANNEL)
    return _receipt(call, receipt)


def send_document(call: Call) -> etree._Element:
    """Raises what the ingest pipeline raises for a bad package."""
    return _submit(call, Kind.DOCUMENT)


def send_status(call: Call) -> etree._Element:
    """Raises what the ingest pipeline raises for a bad package."""
    return _submit(call, Kind.STATUS)


# -- the pull inbox -----------------------------------------------------------------------
def get_pending_document_ids(call: Call) -> etree._Element:
    """Raises ValidationFailed for a Limit outside 1..1000."""
    limit_text = _text(call, "Limit", default="100")
    try:
        limit = int(limit_text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise _invalid(call, "Limit", "Limit must be a whole number from 1 to 1000",
                       "Limit phải là số nguyên từ 1 đến 1000")
    out = _response(call)
    for item in call.hub.inbox.pending(call.system, limit):
        entry = _add(out, "Item", None)
        _add(entry, "MessageId", item.id)
        _add(entry, "Kind", item.kind)
        _add_optional(entry, "DocumentId", item.document_id)
        _add(entry, "Sender", item.sender)
        _organ_ids(entry, "Recipients", item.recipients)
        _add(entry, "Subject", item.subject)
        _add(entry, "ReceivedAt", item.received_at)
    return out


def get_document(call: Call) -> etree._Element:
    """Raises NotFound when the message is not waiting for the caller."""
    message_id = _text(call, "MessageId", required=True, max_length=64)
    wanted = _text(call, "Format", choices=("edxml", "json"))
    raw, form = call.hub.inbox.fetch(call.system, message_id, Form(wanted) if wanted else None)
    out = _response(call)
    _add(out, "MessageId", message_id)
    _add(out, "Format", form.value)
    _add(out, "MediaType", form.media_type)
    _add(out, "PackageBase64", base64.b64encode(raw).decode("ascii"))
    return out


def confirm_received(call: Call) -> etree._Element:
    """Raises NotFound (not the caller's message) or Conflict (acknowledged differently)."""
    message_id = _text(call, "MessageId", required=True, max_length=64)
    result = _text(call, "Result", default="done", choices=("done", "fail"))
    reason = _text(call, "Reason", max_length=1000)
    state = call.hub.inbox.ack(call.system, message_id, "done" if result == "done" else "fail",
                               reason)
    out = _response(call)
    _add(out, "MessageId", message_id)
    _add(out, "State", state)
    return out


def get_trace(call: Call) -> etree._Element:
    """Raises NotFound when there is no such message or the caller may not see it."""
    message_id = _text(call, "MessageId", required=True, max_length=64)
    view = message_view(call.hub.db, call.hub.settings, call.system, message_id)
    out = _response(call)
    _add(out, "MessageId", view["id"])
    _add_optional(out, "DocumentId", view["document_id"])
    _add(out, "State", view["state"])
    for hop in view["trace"]:
        entry = _add(out, "Hop", None)
        _add(entry, "OrganId", hop.get("organId") or "")
        _add(entry, "Timestamp", hop.get("timestamp") or "")
        _add(entry, "Source", hop.get("source") or "")
        _add_optional(entry, "Event", hop.get("event"))
        _add_optional(entry, "Actor", hop.get("actor"))
    for delivery in view["deliveries"]:
        entry = _add(out, "Delivery", None)
        _add(entry, "Recipient", delivery["recipient"])
        _add(entry, "System", delivery["system"])
        _add(entry, "Mode", delivery["mode"])
        _add(entry, "State", delivery["state"])
        _add(entry, "Attempts", len(delivery["attempts"]))
        _add_optional(entry, "LastError", delivery["last_error"])
        _add_optional(entry, "Rule", delivery["rule"])
    for record in view["status_history"]:
        entry = _add(out, "Status", None)
        _add(entry, "StatusCode", record["status_code"])
        _add(entry, "From", record["from"])
        _add_optional(entry, "Description", record["description"])
        _add_optional(entry, "Timestamp", record["timestamp"])
    _warnings(out, view["warnings"])
    for group in view["groups"]:
        _group(out, group)
    _add_optional(out, "Original", view["original"])
    for change in view["changes"]:
        entry = _add(out, "Change", None)
        _add(entry, "MessageId", change["id"])
        _add(entry, "Kind", change["kind"])
        if change["kind"] == Kind.DOCUMENT.value:
            _add(entry, "BussinessDocType", change["business_doc_type"])
        _add_optional(entry, "StatusCode", change["status_code"])
    return out


def _warnings(out: etree._Element, warnings: list[dict[str, Any]]) -> None:
    for warning in warnings:
        entry = _add(out, "Warning", None)
        _add(entry, "Path", warning.get("path") or "/")
        _add_optional(entry, "Line", warning.get("line"))
        _add_optional(entry, "Code", warning.get("code"))
        _add(entry, "Message", warning.get("message") or "")
        _add_optional(entry, "MessageVi", warning.get("message_vi"))


def get_organizations(call: Call) -> etree._Element:
    """Never raises for a valid request: unknown filters simply match nothing."""
    level = _text(call, "Level", max_length=20)
    parent = _text(call, "Parent", max_length=32)
    needle = _text(call, "Query", max_length=200).casefold()
    out = _response(call)
    for org in call.hub.directory.organizations():
        if level and org.level.value != level:
            continue
        if parent and org.parent != parent:
            continue
        if needle and needle not in org.name.casefold() and needle not in org.code.casefold():
            continue
        entry = _add(out, "Organization", None)
        _add(entry, "Code", org.code)
        _add(entry, "Name", org.name)
        _add(entry, "Level", org.level.value)
        _add_optional(entry, "Parent", org.parent)
        for alias in org.aliases:
            _add(entry, "Alias", alias)
        _add_optional(entry, "Successor", org.successor)
    return out


HANDLERS: dict[str, Callable[[Call], etree._Element]] = {
    "SendDocument": send_document,
    "SendStatus": send_status,
    "GetPendingDocumentIds": get_pending_document_ids,
    "GetDocument": get_document,
    "ConfirmReceived": confirm_received,
    "GetTrace": get_trace,
    "GetOrganizations": get_organizations,
}


def handler_for(request: SoapRequest) -> Callable[[Call], etree._Element]:
    """The operation named by the body element.

    Raises NotFound (code unknown_operation) for anything else, and MalformedInput when the
    SOAP action names a different operation than the body.
    """
    name = request.operation_name
    handler = HANDLERS.get(name)
    if handler is None:
        raise NotFound(
            f"unknown operation {name!r}; this service offers {', '.join(HANDLERS)}",
            code="unknown_operation",
            detail_vi=f"Không có thao tác {name!r}",
        )
    announced = request.action.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    if announced in HANDLERS and announced != name:
        raise MalformedInput(
            f"the SOAP action names {announced} but the body holds {name}",
            code="soap_action_mismatch",
            detail_vi=f"SOAP action là {announced} nhưng Body chứa {name}",
        )
    return handler
