"""Authorise: a system may only send as the organisations it serves."""

from __future__ import annotations

from core.errors import FieldError, Forbidden
from hub.ingest.submission import Submission
from routing.directory import Directory


def authorise(sub: Submission, directory: Directory) -> None:
    """Raises Forbidden (code sender_not_served) when the system does not serve the sender."""
    sender = sub.parsed.sender
    canonical = directory.canonical(sender) or sender
    if sub.system.serves(sender) or sub.system.serves(canonical):
        return
    raise Forbidden(
        f"system {sub.system.id} does not serve sender {sender}",
        code="sender_not_served",
        errors=[FieldError("/from/organId", f"{sender} is not served by {sub.system.id}",
                           f"{sender} không thuộc hệ thống {sub.system.id}")],
        detail_vi=f"Hệ thống {sub.system.id} không được gửi thay cho {sender}",
    )
