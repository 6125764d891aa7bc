"""De-duplicate: the key a document is known by, and the digest that says two packages are the
same document.

A document is known by (sender, DocumentId, BussinessDocType), an update, replacement or
revocation also by its content (see `dedup_key`). A package under a key the hub already
holds is one of three things, decided in the writer (hub/ingest/persist.py), one
query per batch:

- the same content to recipients all served already: a duplicate, answered with the first
  message's id, nothing stored;
- the same content to some recipients not yet served (a supplement, "gửi bổ sung"): a new
  message, linked to the first, delivered to the new recipients only;
- other content: DocumentId reused for another document, refused (DocumentIdReused).

The content digest leaves out what a sender or a relay changes without changing the
document: the addressing (`to`, `toPlaces`), the relays' trace (`traceHeaderList.
traceHeaders`) and the signature (which covers the addressing, so a supplement is signed
anew). Everything else counts, attachments by the SHA-256 of their base64 text without
whitespace, so the digest is the same for a package in either form.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.errors import Conflict
from core.model import BusinessDocType, Form, Kind
from core.settings import Limits
from hub.ingest.submission import Submission
from schemas.edxml_package import parse_package
from schemas.edxml_spec import NS

# addressing, relays' trace and signature: see the module docstring
IGNORED_KEYS = frozenset({"to", "toPlaces", "signature"})
_ATTACHMENT_FIELDS = {"ContentId": "contentId", "AttachmentName": "attachmentName",
                      "Description": "description", "ContentType": "contentType"}
_WHITESPACE = b" \t\r\n"


class DocumentIdReused(Conflict):
    """The sender's DocumentId already names another new document (BussinessDocType 0)."""

    code = "document_id_reused"
    title = "DocumentId already used for another document"

    def __init__(self, document_id: str | None, first_id: str) -> None:
        super().__init__(
            f"DocumentId {document_id!r} of this sender already names another document "
            f"(message {first_id}) with different content; send an update (BussinessDocType "
            "2) or a replacement (3), or give the new document its own DocumentId",
            detail_vi=f"Mã văn bản (DocumentId) {document_id!r} của đơn vị gửi đã dùng cho "
                      f"một văn bản khác (thông điệp {first_id}) có nội dung khác; hãy gửi "
                      "văn bản cập nhật (BussinessDocType 2), thay thế (3), hoặc dùng mã "
                      "văn bản mới",
        )
        self.first_id = first_id


def dedup_key(sub: Submission) -> str:
    """Documents: sender, DocumentId and BussinessDocType, and for an update, replacement or
    revocation (1-3) its content digest too. Statuses: sender, document, code, timestamp.

    A new document (0) under a DocumentId already used with other content is refused
    (DocumentIdReused); an update keeps its document's DocumentId by design, so a second
    update with other content is another update, not a reuse: its key differs by the digest,
    while the same update again has the same key and is a duplicate. Call it after
    `content_digest`.
    """
    env = sub.parsed
    if env.kind is Kind.DOCUMENT:
        key = f"doc|{env.sender}|{env.document_id}|{env.business_doc_type}"
        if env.business_doc_type != BusinessDocType.NEW.value:
            key = f"{key}|{sub.content_digest}"
        return key
    rf = env.response_for
    stamp = env.header.get("timestamp", "")
    return f"status|{env.sender}|{rf.document_id if rf else ''}|{env.status_code}|{stamp}"


def content_digest(sub: Submission, limits: Limits) -> str | None:
    """The SHA-256 of a document's content (see the module docstring); None for a status.

    Raises what parsing the package raises, which the codec step has already ruled out.
    """
    env = sub.parsed
    if env.kind is not Kind.DOCUMENT:
        return None
    header = {k: v for k, v in env.header.items() if k not in IGNORED_KEYS}
    trace = header.get("traceHeaderList")
    if isinstance(trace, dict):
        # a relay may add the list to a package that had none: an empty list counts as none
        kept = {k: v for k, v in trace.items() if k != "traceHeaders"}
        if kept:
            header["traceHeaderList"] = kept
        else:
            del header["traceHeaderList"]
    attachments: list[dict[str, Any]] = []
    if env.attachments:
        if env.form is Form.JSON:
            attachments = _json_attachments(sub.raw)
        else:
            attachments = _edxml_attachments(sub.raw, limits)
    text = json.dumps({"header": header, "attachments": attachments}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_attachments(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for att in json.loads(raw).get("attachments") or []:
        item = {k: v for k, v in att.items() if k != "content"}
        content = str(att.get("content", "")).encode("ascii", "replace")
        item["sha256"] = hashlib.sha256(content.translate(None, _WHITESPACE)).hexdigest()
        out.append(item)
    return out


def _edxml_attachments(raw: bytes, limits: Limits) -> list[dict[str, Any]]:
    # parsed again with bodies elided (read from the raw bytes): cheap next to the schema check
    doc = parse_package(raw, limits)
    out = []
    for element in doc.root.iterfind(f"{{{NS}}}AttachmentEncoded/{{{NS}}}Attachment"):
        item: dict[str, Any] = {}
        digest = hashlib.sha256()
        for child in element:
            name = child.tag.split("}")[-1] if isinstance(child.tag, str) else ""
            if name == "ContentTransferEncoded":
                for chunk in doc.content_chunks(child):
                    digest.update(chunk.translate(None, _WHITESPACE))
            elif name in _ATTACHMENT_FIELDS:
                item[_ATTACHMENT_FIELDS[name]] = doc.text(child).strip()
        item["sha256"] = digest.hexdigest()
        out.append(item)
    return out
