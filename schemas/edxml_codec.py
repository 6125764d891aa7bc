"""The edXML form: parse hardened, validate, check attachments, build the Envelope."""

from __future__ import annotations

from core.errors import FieldError
from core.model import AttachmentInfo, Envelope, Form, Kind
from core.settings import Profile, Settings
from schemas.attachments import (
    Listed,
    content_problems,
    duplicate_problems,
    manifest_problems,
    normalise_cid,
    scan_base64,
    too_large,
)
from schemas.edxml_package import read_package
from schemas.edxml_schema import fast_schema, tolerant_authoritative_schema, tolerant_fast_schema
from schemas.edxml_spec import NS
from schemas.mapping import tree_to_json
from schemas.problems import validation_failed
from schemas.semantics import (
    envelope_from_package,
    too_many_attachments,
    too_many_recipients,
)
from schemas.xmlparser import ParsedXml, element_path, text_value


def _q(*names: str) -> str:
    return "/".join(f"{{{NS}}}{name}" for name in names)


class EdxmlCodec:
    """Reads packages in the edXML form (QCVN 102:2016)."""

    form = Form.EDXML

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # compile at start-up, not on the first request
        fast_schema()
        tolerant_fast_schema()
        tolerant_authoritative_schema()

    def read(self, raw: bytes, kind: Kind, profile: Profile | None = None) -> Envelope:
        """The Envelope of a valid package of `kind`, checked under `profile` (by default the
        settings' `validation.profile`); the deviations it lets through are warnings.

        Raises MalformedInput, HostileInput, PayloadTooLarge (the body or one attachment
        over its limit) or ValidationFailed (with code `wrong_package_kind` for a package
        of the other kind), naming every offending element with its line.
        """
        profile = profile or self._settings.validation.profile
        checked = read_package(raw, self._settings.limits, kind, profile)
        doc, kind = checked.doc, checked.kind
        header = tree_to_json(doc, kind, with_content=False)
        header.pop("attachments", None)
        # the parse's quirks (stray characters before the declaration, an undeclared
        # prefix) are deviations too: the strict profile refuses them
        strict = profile == "strict"
        errors: list[FieldError] = [*(doc.quirks if strict else ()), *checked.errors]
        infos: list[AttachmentInfo] = []
        warnings: list[FieldError] = [*(() if strict else doc.quirks), *checked.warnings]
        if kind is Kind.DOCUMENT:
            recipients = doc.root.findall(_q("edXMLEnvelope", "edXMLHeader", "MessageHeader",
                                             "To"))
            if len(recipients) > self._settings.limits.max_recipients:
                extra = recipients[self._settings.limits.max_recipients]
                errors.append(too_many_recipients(element_path(extra), len(recipients),
                                                  self._settings, extra.sourceline))
            infos, att_errors, att_warnings = check_attachments(doc, self._settings)
            errors.extend(att_errors)
            warnings.extend(att_warnings)
        if errors:
            raise validation_failed(errors)
        return envelope_from_package(header, kind, Form.EDXML, infos, warnings)


def check_attachments(doc: ParsedXml, settings: Settings,
                      ) -> tuple[list[AttachmentInfo], list[FieldError], list[FieldError]]:
    """Attachments of a schema-valid document package, read straight from the raw bytes.

    Returns (infos, errors, warnings). Raises PayloadTooLarge when one is over its limit.
    """
    limit = settings.limits.max_attachment_bytes
    policy = settings.validation.attachment_base64
    attachments = doc.root.findall(_q("AttachmentEncoded", "Attachment"))
    references = doc.root.findall(_q("edXMLEnvelope", "edXMLBody", "edXMLManifest",
                                     "Reference"))
    infos: list[AttachmentInfo] = []
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    if len(attachments) > settings.limits.max_attachments:
        extra = attachments[settings.limits.max_attachments]
        errors.append(too_many_attachments(element_path(extra), len(attachments), settings,
                                           extra.sourceline))
        return infos, errors, warnings
    listed = []
    for i, attachment in enumerate(attachments):
        fields = {c.tag.rpartition("}")[2]: c for c in attachment if isinstance(c.tag, str)}
        body = fields["ContentTransferEncoded"]
        # paths built here rather than by element_path: this runs for every package
        base = f"/edXML/AttachmentEncoded/Attachment{f'[{i + 1}]' if len(attachments) > 1 else ''}"
        path = f"{base}/ContentTransferEncoded"
        scan = scan_base64(doc.content_chunks(body), limit=limit)
        if scan.over_limit:
            raise too_large(base, scan.size, limit, attachment.sourceline)
        ctype = text_value(fields["ContentType"]) if "ContentType" in fields else ""
        bad, warned = content_problems(path, scan, ctype, policy=policy, line=body.sourceline)
        errors.extend(bad)
        warnings.extend(warned)
        cid = text_value(fields["ContentId"])
        listed.append(Listed(f"{base}/ContentId", cid, fields["ContentId"].sourceline))
        name = text_value(fields["AttachmentName"]) if "AttachmentName" in fields else ""
        size = scan.size if scan.base64_ok else sum(len(c) for c in doc.content_chunks(body))
        infos.append(AttachmentInfo(normalise_cid(cid), name, ctype.lower(), size))
    listed_refs = []
    manifest = "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference"
    for i, reference in enumerate(references):
        cid_el = reference.find(_q("ContentId"))
        if cid_el is not None:
            where = f"{manifest}[{i + 1}]" if len(references) > 1 else manifest
            listed_refs.append(Listed(f"{where}/ContentId", text_value(cid_el),
                                      cid_el.sourceline))
    errors.extend(duplicate_problems(listed, "attachment_duplicate_id", "tệp đính kèm"))
    errors.extend(duplicate_problems(listed_refs, "reference_duplicate_id", "tham chiếu"))
    errors.extend(manifest_problems(listed_refs, listed))
    return infos, errors, warnings

