"""Checks a schema cannot express (real calendar dates, attachments), shared by both forms."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import zipfile
from typing import Any

from hub.errors import FieldError, PayloadTooLarge, ValidationFailed
from hub.model import AttachmentInfo, Envelope, Form, Kind, ResponseFor
from hub.settings import Settings

DATE_FORMATS = ("%Y/%m/%d", "%d/%m/%Y")
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}


def parse_date(text: str) -> dt.date | None:
    """A date in either form real producers write, or None if it is no real date."""
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_timestamp(text: str) -> dt.datetime | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt + " %H:%M:%S")
        except ValueError:
            continue
    return None


def normalise_cid(cid: str) -> str:
    """`cid:abc` and `abc` name the same attachment."""
    cid = cid.strip()
    return cid[4:] if cid.lower().startswith("cid:") else cid


def _date_errors(pkg: dict[str, Any], kind: Kind) -> list[FieldError]:
    errors: list[FieldError] = []

    def check(path: str, value: Any, timestamp: bool = False) -> None:
        if not isinstance(value, str) or not value:
            return
        ok = parse_timestamp(value) if timestamp else parse_date(value)
        if ok is None:
            errors.append(
                FieldError(
                    path,
                    f"{value!r} is not a real date",
                    f"{value!r} không phải là ngày hợp lệ",
                )
            )

    if kind is Kind.DOCUMENT:
        check("/promulgationInfo/promulgationDate", pkg.get("promulgationInfo", {}).get(
            "promulgationDate"))
        check("/dueDate", pkg.get("dueDate"))
        for i, rf in enumerate(pkg.get("responseFor", [])):
            check(f"/responseFor/{i}/promulgationDate", rf.get("promulgationDate"))
    else:
        check("/timestamp", pkg.get("timestamp"), timestamp=True)
        check("/responseFor/promulgationDate", pkg.get("responseFor", {}).get("promulgationDate"))
    return errors


def decoded_size(content: str) -> int:
    stripped = len(content) - content.count("\n") - content.count("\r") - content.count(" ")
    return stripped * 3 // 4


def check_attachments(
    attachments: list[dict[str, Any]], settings: Settings
) -> tuple[list[AttachmentInfo], list[FieldError], list[FieldError]]:
    """Attachments of the JSON form: unique ids, valid base64, sizes, declared ZIPs are ZIPs.

    Returns (infos, errors, warnings). Raises PayloadTooLarge when one is over its limit.
    """
    infos: list[AttachmentInfo] = []
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    seen: set[str] = set()
    limit = settings.limits.max_attachment_bytes
    for i, att in enumerate(attachments):
        path = f"/attachments/{i}"
        cid = normalise_cid(att["contentId"])
        if cid in seen:
            errors.append(
                FieldError(f"{path}/contentId", f"duplicate contentId {cid!r}",
                           f"contentId {cid!r} bị trùng")
            )
        seen.add(cid)
        content: str = att.get("content", "")
        size = decoded_size(content)
        if size > limit:
            raise PayloadTooLarge(
                f"attachment {path} is about {size} bytes; the limit is {limit}",
                code="attachment_too_large",
                errors=[FieldError(path, f"over {limit} bytes", f"vượt quá {limit} byte")],
            )
        try:
            data = base64.b64decode(content, validate=False) if content else b""
            if content and base64.b64encode(data) != "".join(content.split()).encode():
                raise binascii.Error("not canonical base64")
        except (binascii.Error, ValueError):
            problem = FieldError(f"{path}/content", "content is not valid base64",
                                 "nội dung không phải base64 hợp lệ")
            if settings.validation.attachment_base64 == "warn":
                warnings.append(problem)
                infos.append(AttachmentInfo(cid, att.get("attachmentName", ""),
                                            att.get("contentType", ""), size))
                continue
            errors.append(problem)
            continue
        ctype = att.get("contentType", "").lower()
        if ctype in ZIP_TYPES and data and not _is_zip(data):
            errors.append(
                FieldError(f"{path}/content", f"declared {ctype} but the content is not a ZIP",
                           f"khai báo {ctype} nhưng nội dung không phải tệp ZIP")
            )
        infos.append(AttachmentInfo(cid, att.get("attachmentName", ""), ctype, len(data)))
    if len(attachments) > settings.limits.max_attachments:
        errors.append(FieldError("/attachments", "too many attachments", "quá nhiều tệp đính kèm"))
    return infos, errors, warnings


def _is_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.testzip() is None or True
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def check_package(
    pkg: dict[str, Any], kind: Kind, settings: Settings
) -> tuple[list[AttachmentInfo], list[FieldError]]:
    """Semantic checks on a schema-valid JSON-form package.

    Returns (attachment infos, warnings). Raises ValidationFailed listing every error.
    """
    errors = _date_errors(pkg, kind)
    infos: list[AttachmentInfo] = []
    warnings: list[FieldError] = []
    if kind is Kind.DOCUMENT:
        infos, att_errors, warnings = check_attachments(pkg.get("attachments", []), settings)
        errors.extend(att_errors)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} field(s) are invalid",
            errors=errors,
            detail_vi=f"{len(errors)} trường không hợp lệ",
        )
    return infos, warnings


def envelope_from_package(
    header: dict[str, Any],
    kind: Kind,
    form: Form,
    attachments: list[AttachmentInfo],
    warnings: list[FieldError],
) -> Envelope:
    """The Envelope of a validated package given in the JSON form (without attachment bodies)."""
    sender = header["from"]["organId"]
    if kind is Kind.DOCUMENT:
        bussiness = header.get("traceHeaderList", {}).get("bussiness", {})
        priority = header.get("otherInfo", {}).get("priority", "0") or "0"
        return Envelope(
            kind=kind,
            form=form,
            sender=sender,
            recipients=tuple(dict.fromkeys(t["organId"] for t in header["to"])),
            document_id=header["documentId"],
            business_doc_type=bussiness.get("bussinessDocType", "0") or "0",
            subject=header.get("subject", ""),
            priority=int(priority),
            header=header,
            attachments=tuple(attachments),
            warnings=tuple(warnings),
        )
    rf = header["responseFor"]
    return Envelope(
        kind=kind,
        form=form,
        sender=sender,
        recipients=(rf["organId"],),
        document_id=None,
        response_for=ResponseFor(rf["organId"], rf["documentId"], rf.get("code", "")),
        status_code=header["statusCode"],
        header=header,
        warnings=tuple(warnings),
    )
