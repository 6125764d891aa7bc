"""Attachment checks shared by both forms, streaming over base64 text without decoding it whole.

One pass over the text validates the base64, counts the decoded bytes against the limit
(stopping as soon as it is passed) and keeps only the first bytes and the last 64 KB,
enough to tell whether a declared ZIP really is one.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.errors import FieldError, PayloadTooLarge
from schemas.problems import CodedFieldError

ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})
_WHITESPACE = b" \t\r\n"
# a ZIP ends with its end-of-central-directory record: 22 bytes and a comment up to 64 KB
_EOCD = b"PK\x05\x06"
_EOCD_WINDOW = 22 + 0xFFFF
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


@dataclass(frozen=True)
class ContentScan:
    """What one pass over an attachment's base64 text found."""

    size: int  # decoded bytes so far (all of them when the text is valid base64)
    base64_ok: bool
    zip_ok: bool  # a ZIP's first local header and its closing record are both there
    over_limit: bool = False
    # why the text is not base64: "character", "padding", "length", "after_padding",
    # "non_canonical" (see _BASE64_PROBLEMS), and what the text starts with
    problem: str = ""
    character: str = ""
    head: str = ""


# why a text is not base64, said plainly (English, Vietnamese)
_BASE64_PROBLEMS = {
    "character": ("the character {character} is not used by base64",
                  "ký tự {character} không thuộc bảng mã base64"),
    "padding": ("the '=' padding is misplaced", "ký tự đệm '=' đặt sai chỗ"),
    "length": ("its length is not a multiple of 4: it looks cut short",
               "độ dài không chia hết cho 4: có vẻ bị cắt cụt"),
    "after_padding": ("text follows the closing '=' padding",
                      "có văn bản sau ký tự đệm '=' kết thúc"),
    "non_canonical": ("its last characters are not written the one way base64 allows",
                      "các ký tự cuối không viết đúng cách duy nhất của base64"),
}
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def normalise_cid(cid: str) -> str:
    """`cid:abc` and `abc` name the same attachment."""
    cid = cid.strip()
    return cid[4:] if cid.lower().startswith("cid:") else cid


def text_chunks(text: str, size: int = 1 << 16) -> Iterator[bytes]:
    """A str in ASCII chunks; a non-ASCII character becomes "?", which fails base64."""
    for i in range(0, len(text), size):
        yield text[i : i + size].encode("ascii", "replace")


def scan_base64(chunks: Iterable[bytes], *, limit: int) -> ContentScan:
    """Validate base64 text given in chunks; stops early once over `limit` decoded bytes."""
    carry = b""
    size = 0
    head = b""
    tail = b""
    text_head = ""
    padded = False

    def refused(problem: str, character: str = "") -> ContentScan:
        return ContentScan(size, False, False, problem=problem, character=character,
                           head=text_head)

    for chunk in chunks:
        if not text_head:
            text_head = chunk[:40].decode("ascii", "replace").strip()
        data = carry + chunk.translate(None, _WHITESPACE)
        if padded and data:
            return refused("after_padding")
        cut = len(data) // 4 * 4
        block, carry = data[:cut], data[cut:]
        if not block:
            continue
        try:
            decoded = binascii.a2b_base64(block, strict_mode=True)
        except binascii.Error:
            stray = next((chr(b) for b in block if b not in _BASE64_ALPHABET), "")
            return refused("character", stray) if stray else refused("padding")
        padded = block.endswith(b"=")
        tail_bytes = 3 - block[-2:].count(b"=")
        if padded and binascii.b2a_base64(decoded[-tail_bytes:], newline=False) != block[-4:]:
            # "QR==" decodes like "QQ==": accept only the one canonical spelling
            return refused("non_canonical")
        size += len(decoded)
        if size > limit:
            return ContentScan(size, True, False, over_limit=True)
        if len(head) < 4:
            head += decoded[: 4 - len(head)]
        tail = (tail + decoded)[-_EOCD_WINDOW:]
    if carry:
        stray = next((chr(b) for b in carry if b not in _BASE64_ALPHABET), "")
        return refused("character", stray) if stray else refused("length")
    zip_ok = head.startswith(_ZIP_STARTS) and _EOCD in tail
    return ContentScan(size, True, zip_ok)


def too_large(path: str, size: int, limit: int, line: int | None = None) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the attachment at {path} is over {limit} bytes",
        code="attachment_too_large",
        errors=[CodedFieldError(path, f"expected at most {limit} bytes, found more than {size - 1}",
                                f"tối đa {limit} byte, nhận được hơn {size - 1} byte",
                                line, "attachment_too_large")],
        detail_vi=f"Tệp đính kèm tại {path} vượt quá {limit} byte",
    )


def content_problems(path: str, scan: ContentScan, content_type: str, *,
                     policy: str, line: int | None = None,
                     ) -> tuple[list[FieldError], list[FieldError]]:
    """(errors, warnings) about one scanned attachment under the base64 `policy`."""
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    if not scan.base64_ok:
        why, why_vi = _BASE64_PROBLEMS.get(scan.problem, _BASE64_PROBLEMS["padding"])
        character = repr(scan.character)
        why, why_vi = why.format(character=character), why_vi.format(character=character)
        head = f" {scan.head!r}" if scan.head else ""
        problem = CodedFieldError(
            path, f"expected the attachment's content in base64, found text{head} that is "
                  f"not base64: {why}",
            f"nội dung tệp đính kèm phải mã hóa base64, nhận được văn bản{head} không phải "
            f"base64: {why_vi}",
            line, "attachment_not_base64",
        )
        (warnings if policy == "warn" else errors).append(problem)
        return errors, warnings
    if content_type.strip().lower() in ZIP_TYPES and not scan.zip_ok:
        errors.append(CodedFieldError(
            path, f"expected a ZIP file (declared {content_type}), found other content",
            f"khai báo {content_type} nhưng nội dung không phải tệp ZIP",
            line, "attachment_not_zip",
        ))
    return errors, warnings


@dataclass(frozen=True)
class Listed:
    """An attachment or manifest reference by content id, for the cross-check."""

    path: str
    content_id: str
    line: int | None = None


def duplicate_problems(items: list[Listed], code: str, what_vi: str) -> list[FieldError]:
    """Content ids that appear twice (after dropping a `cid:` prefix)."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for item in items:
        cid = normalise_cid(item.content_id)
        if cid in seen:
            errors.append(CodedFieldError(
                item.path, f"expected a unique content id, found {cid!r} again",
                f"ContentId {cid!r} của {what_vi} bị trùng", item.line, code))
        seen.add(cid)
    return errors


def manifest_problems(references: list[Listed], attachments: list[Listed]) -> list[FieldError]:
    """Every reference has its attachment and every attachment its reference.

    Content ids compare after dropping a `cid:` prefix, which producers add on one side
    and not the other.
    """
    errors: list[FieldError] = []
    attached = {normalise_cid(a.content_id) for a in attachments}
    referenced = {normalise_cid(r.content_id) for r in references}
    for ref in references:
        if normalise_cid(ref.content_id) not in attached:
            errors.append(CodedFieldError(
                ref.path,
                f"expected an attachment with content id {ref.content_id!r}, found none",
                f"không có tệp đính kèm nào có ContentId {ref.content_id!r}",
                ref.line, "manifest_dangling_reference"))
    for att in attachments:
        if normalise_cid(att.content_id) not in referenced:
            errors.append(CodedFieldError(
                att.path,
                f"expected a manifest reference to content id {att.content_id!r}, found none",
                f"tệp đính kèm {att.content_id!r} không có trong danh mục (manifest)",
                att.line, "attachment_unreferenced"))
    return errors
