"""Authorise: a system may only send as the organisations it serves (or, when the directory
says `sends.outside`, as units outside the province: the national platform relays theirs),
and only the document types the directory allows it."""

from __future__ import annotations

from core.errors import FieldError, Forbidden
from core.model import Kind
from hub.ingest.submission import Submission
from routing.directory import Directory, Level


def authorise(sub: Submission, directory: Directory) -> None:
    """Raises Forbidden: code sender_not_served when the system does not serve the sender,
    document_type_not_allowed when the directory limits the types it may send and this
    document is of another."""
    sender = sub.parsed.sender
    canonical = directory.canonical(sender) or sender
    if not (sub.system.serves(sender) or sub.system.serves(canonical)
            or (sub.system.sends.outside and _outside(directory, sender))):
        raise _not_served(sub, sender)
    if sub.parsed.kind is Kind.DOCUMENT:
        doc_type = sub.parsed.header.get("documentType") or {}
        name = str(doc_type.get("typeName") or "")
        if not sub.system.sends.allows_type(name):
            allowed = ", ".join(sub.system.sends.document_types)
            raise Forbidden(
                f"system {sub.system.id} may not send documents of type {name!r}; it may send: "
                f"{allowed}",
                code="document_type_not_allowed",
                errors=[FieldError("/documentType/typeName",
                                   f"{name!r} is not a type {sub.system.id} may send",
                                   f"Hệ thống {sub.system.id} không được gửi loại văn bản "
                                   f"{name!r}")],
                detail_vi=f"Hệ thống {sub.system.id} không được gửi loại văn bản {name!r}; "
                          f"chỉ được gửi: {allowed}",
            )


def _outside(directory: Directory, sender: str) -> bool:
    """The sender is no unit of the province: unknown to the directory, or external."""
    org = directory.organization(sender)
    return org is None or org.level is Level.EXTERNAL


def _not_served(sub: Submission, sender: str) -> Forbidden:
    return Forbidden(
        f"system {sub.system.id} does not serve sender {sender}",
        code="sender_not_served",
        errors=[FieldError("/from/organId", f"{sender} is not served by {sub.system.id}",
                           f"{sender} không thuộc hệ thống {sub.system.id}")],
        detail_vi=f"Hệ thống {sub.system.id} không được gửi thay cho {sender}",
    )
