"""Checks a schema cannot express (real calendar dates, attachments), shared by both forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from core.errors import FieldError, HubError, ValidationFailed
from core.model import AttachmentInfo, Envelope, Form, Kind, ResponseFor
from core.settings import Limits, Profile, Settings
from schemas.attachments import (
    ZIP_TYPES,
    Listed,
    content_problems,
    duplicate_problems,
    manifest_problems,
    normalise_cid,
    scan_base64,
    text_chunks,
    too_large,
)
from schemas.dates import DATE_FORMATS, not_a_real_date, parse_date, parse_timestamp
from schemas.deviations import Findings, date_finding, json_findings
from schemas.edxml_spec import SIGNATURE_NAMESPACES
from schemas.problems import CodedFieldError, counted
from schemas.xmlparser import parse_xml

__all__ = [
    "DATE_FORMATS",
    "ZIP_TYPES",
    "check_attachments",
    "check_package",
    "date_errors",
    "envelope_from_package",
    "normalise_cid",
    "not_a_real_date",
    "parse_date",
    "parse_timestamp",
    "xml_text_errors",
]

# characters XML 1.0 cannot carry: a JSON string with one could never become edXML
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def date_errors(pkg: dict[str, Any], kind: Kind) -> list[FieldError]:
    """Dates and timestamps of a JSON-form header that are no date or no real day, with
    JSON paths (the forms producers use instead of the standard's are not errors here)."""
    found = Findings()

    def get(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, dict) else None

    def check(path: str, value: Any, timestamp: bool = False) -> None:
        if isinstance(value, str) and value:
            found.extend(date_finding(path, value, timestamp, optional=True))

    if kind is Kind.DOCUMENT:
        check("/promulgationInfo/promulgationDate",
              get(pkg.get("promulgationInfo"), "promulgationDate"))
        check("/dueDate", pkg.get("dueDate"))
        response_for = pkg.get("responseFor")
        for i, rf in enumerate(response_for if isinstance(response_for, list) else []):
            check(f"/responseFor/{i}/promulgationDate", get(rf, "promulgationDate"))
    else:
        check("/timestamp", pkg.get("timestamp"), timestamp=True)
        check("/responseFor/promulgationDate", get(pkg.get("responseFor"), "promulgationDate"))
    return list(found.errors)


def xml_text_errors(value: Any, path: str = "", *, skip: frozenset[str] = frozenset(),
                    ) -> list[FieldError]:
    """Strings holding characters XML 1.0 cannot carry (so the package has no edXML form)."""
    errors: list[FieldError] = []
    for where, text in _strings(value, path, skip):
        bad = _NOT_XML.search(text)
        if bad:
            errors.append(CodedFieldError(
                where or "/",
                f"expected text XML can carry, found the character U+{ord(bad.group()):04X}",
                f"ký tự U+{ord(bad.group()):04X} không được phép trong XML",
                None, "value_not_xml",
            ))
    return errors


def _strings(value: Any, path: str, skip: frozenset[str]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item, f"{path}/{key}", skip)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}/{i}", skip)


def check_attachments(
    attachments: list[dict[str, Any]], settings: Settings
) -> tuple[list[AttachmentInfo], list[FieldError], list[FieldError]]:
    """Attachments of the JSON form: unique ids, valid base64, sizes, declared ZIPs are ZIPs.

    Returns (infos, errors, warnings). Raises PayloadTooLarge when one is over its limit.
    """
    infos: list[AttachmentInfo] = []
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    limit = settings.limits.max_attachment_bytes
    policy = settings.validation.attachment_base64
    if len(attachments) > settings.limits.max_attachments:
        errors.append(too_many_attachments("/attachments", len(attachments), settings))
    for i, att in enumerate(attachments):
        path = f"/attachments/{i}/content"
        content: str = att.get("content", "")
        scan = scan_base64(text_chunks(content), limit=limit)
        if scan.over_limit:
            raise too_large(f"/attachments/{i}", scan.size, limit)
        ctype = att.get("contentType", "")
        bad, warned = content_problems(path, scan, ctype, policy=policy)
        errors.extend(bad)
        warnings.extend(warned)
        if warned:
            errors.extend(xml_text_errors(content, path))
        size = scan.size if scan.base64_ok else len(content.encode("utf-8"))
        infos.append(AttachmentInfo(normalise_cid(att["contentId"]),
                                    att.get("attachmentName", ""), ctype.lower(), size))
    listed = [Listed(f"/attachments/{i}/contentId", a["contentId"])
              for i, a in enumerate(attachments)]
    errors.extend(duplicate_problems(listed, "attachment_duplicate_id", "tệp đính kèm"))
    return infos, errors, warnings


def too_many_attachments(path: str, count: int, settings: Settings,
                         line: int | None = None) -> FieldError:
    limit = settings.limits.max_attachments
    return CodedFieldError(path, f"expected at most {limit} attachments, found {count}",
                           f"tối đa {limit} tệp đính kèm, nhận được {count}", line,
                           "too_many_attachments")


def too_many_recipients(path: str, count: int, settings: Settings,
                        line: int | None = None) -> FieldError:
    limit = settings.limits.max_recipients
    return CodedFieldError(path, f"expected at most {limit} recipients, found {count}",
                           f"tối đa {limit} nơi nhận, nhận được {count}", line,
                           "too_many_recipients")


def signature_errors(pkg: dict[str, Any], limits: Limits) -> list[FieldError]:
    """The JSON form's signature block must be one XML Signature element, either namespace."""
    signature = pkg.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("xml"), str):
        return []
    try:
        root = parse_xml(signature["xml"].encode("utf-8"), max_depth=limits.max_xml_depth,
                         max_attributes=limits.max_xml_attributes,
                         max_bytes=limits.max_body_bytes)
    except HubError as exc:
        return [CodedFieldError("/signature/xml", f"expected an XML Signature element; {exc}",
                                f"cần một phần tử XML Signature; {exc.detail_vi or exc}",
                                None, "signature_invalid")]
    text = signature["xml"].lstrip()
    if text.startswith(("<?", "<!")) or root.getprevious() is not None \
            or root.getnext() is not None:
        # the block is written into a package as it is: it must be one element, nothing more
        return [CodedFieldError(
            "/signature/xml", "expected one Signature element alone, found an XML declaration,"
            " comment or processing instruction around it",
            "chỉ được có một phần tử Signature, không kèm khai báo XML, chú thích hay chỉ thị",
            None, "signature_invalid")]
    qname = etree.QName(root)
    if qname.localname != "Signature" or qname.namespace not in SIGNATURE_NAMESPACES:
        return [CodedFieldError(
            "/signature/xml",
            "expected a Signature element in the xmldsig or edXML namespace, found "
            f"{qname.localname} in {qname.namespace or 'no namespace'}",
            "cần phần tử Signature thuộc không gian tên xmldsig hoặc edXML, nhận được "
            f"{qname.localname} ({qname.namespace or 'không thuộc không gian tên nào'})",
            None, "signature_invalid")]
    return []


def check_package(
    pkg: dict[str, Any], kind: Kind, settings: Settings, profile: Profile = "interop",
) -> tuple[list[AttachmentInfo], list[FieldError]]:
    """Semantic checks on a JSON-form package valid against the tolerant JSON Schema, and
    its deviations from the standard, settled under `profile`.

    Returns (attachment infos, warnings). Raises ValidationFailed listing every error,
    PayloadTooLarge when an attachment is over its limit.
    """
    warnings, errors = json_findings(pkg, kind).settle(profile)
    errors.extend(xml_text_errors(pkg, skip=frozenset({"attachments"})))
    errors.extend(signature_errors(pkg, settings.limits))
    infos: list[AttachmentInfo] = []
    if kind is Kind.DOCUMENT:
        recipients = pkg.get("to", [])
        if len(recipients) > settings.limits.max_recipients:
            errors.append(too_many_recipients("/to", len(recipients), settings))
        attachments = pkg.get("attachments", [])
        infos, att_errors, att_warnings = check_attachments(attachments, settings)
        errors.extend(att_errors)
        warnings.extend(att_warnings)
        manifest = pkg.get("manifest")
        if isinstance(manifest, dict):
            references = [Listed(f"/manifest/references/{i}/contentId", r["contentId"])
                          for i, r in enumerate(manifest.get("references", []))]
            listed = [Listed(f"/attachments/{i}/contentId", a["contentId"])
                      for i, a in enumerate(attachments)]
            errors.extend(duplicate_problems(references, "reference_duplicate_id", "tham chiếu"))
            errors.extend(manifest_problems(references, listed))
    if errors:
        # the JSON form's code stays `validation_failed` (clients rely on it); each error
        # carries its own precise code
        raise ValidationFailed(
            f"{counted(len(errors), 'field')} of the package "
            f"{'is' if len(errors) == 1 else 'are'} not valid",
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
