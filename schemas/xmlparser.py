"""The one hardened XML parser: every XML the hub reads goes through here.

What it refuses, before or while libxml2 sees the bytes:
- a DOCTYPE of any kind (so no entity expansion, no external DTD, no XXE): HostileInput
  `xml_doctype`. lxml's resolve_entities=False would merely leave entity references in
  place, so the declaration itself is refused.
- nesting deeper than `max_depth` (`xml_too_deep`), an element with more than
  `max_attributes` attributes (`xml_too_many_attributes`): HostileInput. libxml2 stops by
  itself at depth 256, so 10,000-deep nesting fails after a few hundred bytes.
- more than `max_bytes` (PayloadTooLarge `xml_too_large`), anything but UTF-8
  (MalformedInput `xml_not_utf8`), anything not well-formed (MalformedInput
  `xml_malformed`, with line and column).
No network access, no huge_tree, no XInclude.

Two producer quirks seen in real packages are tolerated, narrowly, and reported as
quirks so callers can record them; the bytes the hub stores are never modified:
- a short run of letters or digits before the XML declaration (`1212<?xml ...`);
- a prefix used without a declaration, when it is one of `known_prefixes` (by default
  only `xlink`) and undeclared prefixes are the only error: the parse is retried with
  those prefixes bound on the root element.

Large character content (a base64 attachment) can be kept out of the tree: see `elide`
in `parse_xml_document`. Without it libxml2 refuses text nodes over 10 MB (that limit
is what huge_tree would lift), and the content would be copied into the tree and again
into Python strings.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import NoReturn

from lxml import etree

from core.errors import FieldError, HostileInput, MalformedInput, PayloadTooLarge
from schemas.problems import CodedFieldError

XLINK_NS = "http://www.w3.org/1999/xlink"
DEFAULT_KNOWN_PREFIXES: Mapping[str, str] = MappingProxyType({"xlink": XLINK_NS})

_SCAN_CHUNK = 1 << 20
_MAX_JUNK = 16
_JUNK = re.compile(rb"[0-9A-Za-z]{1,%d}(?=<\?xml[\s?])" % _MAX_JUNK)
_DECLARED_ENCODING = re.compile(rb"<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES = {b"utf-8", b"utf8"}
_BOM_UTF8 = b"\xef\xbb\xbf"
# character content that can be elided: printable ASCII and line breaks, without the
# three characters that could start or end markup
_ELIDABLE = bytes(sorted(set(range(0x20, 0x7F)) - {ord("<"), ord(">"), ord("&")})) + b"\t\n\r"
_UNDEFINED_PREFIX = re.compile(r"Namespace prefix (\S+) (?:for \S+ )?on \S+ is not defined")


@dataclass(frozen=True)
class ParsedXml:
    """A parsed document, the quirks tolerated on the way, and any elided content.

    `elided` maps an element whose character content was kept out of the tree to the
    byte range of that content in `raw`; its `.text` in the tree is a placeholder, so
    read it with `text()` or `content_chunks()`, or put it back with `restore()`.
    """

    root: etree._Element
    raw: bytes
    quirks: tuple[FieldError, ...] = ()
    elided: Mapping[etree._Element, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def text(self, element: etree._Element) -> str:
        """The element's character content as XML defines it (line breaks normalised)."""
        span = self.elided.get(element)
        if span is None:
            return element.text or ""
        content = self.raw[span[0] : span[1]].decode("ascii")
        return content.replace("\r\n", "\n").replace("\r", "\n")

    def content_chunks(self, element: etree._Element, size: int = 1 << 16) -> Iterator[bytes]:
        """The element's character content in chunks, straight from the raw bytes when elided.

        Line breaks are not normalised: callers use this for base64, where they are noise.
        """
        span = self.elided.get(element)
        if span is None:
            data = (element.text or "").encode("utf-8")
            for i in range(0, len(data), size):
                yield data[i : i + size]
            return
        view = memoryview(self.raw)
        for i in range(span[0], span[1], size):
            yield bytes(view[i : min(i + size, span[1])])

    def restore(self) -> etree._Element:
        """Put elided content back into the tree (for a caller that serialises it)."""
        for element in self.elided:
            element.text = self.text(element)
        return self.root


def parse_xml(raw: bytes, *, max_depth: int, max_attributes: int, max_bytes: int,
              ) -> etree._Element:
    """Parse untrusted bytes into an element tree, hardened (see the module docstring).

    Raises PayloadTooLarge, HostileInput or MalformedInput.
    """
    return parse_xml_document(
        raw, max_depth=max_depth, max_attributes=max_attributes, max_bytes=max_bytes
    ).root


def parse_xml_with_lines(raw: bytes, *, max_depth: int, max_attributes: int, max_bytes: int,
                         ) -> tuple[etree._Element, dict[str, int]]:
    """Parse as `parse_xml`, and give the source line of every element by its path.

    Raises PayloadTooLarge, HostileInput or MalformedInput.
    """
    root = parse_xml(raw, max_depth=max_depth, max_attributes=max_attributes,
                     max_bytes=max_bytes)
    return root, element_lines(root)


def parse_xml_document(
    raw: bytes,
    *,
    max_depth: int,
    max_attributes: int,
    max_bytes: int,
    known_prefixes: Mapping[str, str] = DEFAULT_KNOWN_PREFIXES,
    elide: frozenset[str] = frozenset(),
) -> ParsedXml:
    """Parse untrusted bytes, hardened, reporting tolerated quirks.

    `elide` names elements (by local name) whose character content, when it is plain
    printable ASCII such as base64, is kept out of the tree and read from `raw` instead.

    Raises PayloadTooLarge, HostileInput or MalformedInput.
    """
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"the XML document is {len(raw)} bytes; the limit is {max_bytes}",
            code="xml_too_large",
            detail_vi=f"Tài liệu XML có {len(raw)} byte, vượt giới hạn {max_bytes} byte",
        )
    quirks: list[FieldError] = []
    start = _skip_junk(raw, quirks)
    _check_encoding(raw, start)
    root_at = _scan_prolog(raw, start)
    bound: dict[str, str] = {}
    while True:
        try:
            root, elided = _parse(raw, start, root_at, bound, elide)
            break
        except _UndefinedPrefixes as exc:
            # bind only well-known prefixes, once: anything else stays an error
            unknown = exc.prefixes - known_prefixes.keys()
            if unknown or exc.prefixes <= bound.keys():
                raise _malformed(exc.error) from exc.error
            for prefix in sorted(exc.prefixes):
                bound[prefix] = known_prefixes[prefix]
                quirks.append(CodedFieldError(
                    "/",
                    f"the prefix {prefix}: is used without a declaration (expected one, "
                    f"found none); read as {known_prefixes[prefix]}",
                    f"tiền tố {prefix}: được dùng mà không khai báo; hiểu là "
                    f"{known_prefixes[prefix]}",
                    exc.line, "xml_undeclared_prefix",
                ))
    _check_shape(root, max_depth, max_attributes)
    return ParsedXml(root, raw, tuple(quirks), MappingProxyType(elided))


def element_path(element: etree._Element) -> str:
    """A path for humans: local names from the root, `[n]` where a name repeats."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def text_value(element: etree._Element) -> str:
    """An element's character content, as a schema sees it (comments and PIs left out)."""
    if len(element) == 0:
        return element.text or ""
    return str(element.xpath("string()"))


def element_lines(root: etree._Element) -> dict[str, int]:
    """The source line of every element under `root`, by its `element_path`."""
    lines: dict[str, int] = {}

    def visit(node: etree._Element, path: str) -> None:
        lines[path] = node.sourceline or 0
        children = [c for c in node if isinstance(c.tag, str)]
        counts: dict[str, int] = {}
        for child in children:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        seen: dict[str, int] = {}
        for child in children:
            name = etree.QName(child).localname
            if counts[child.tag] > 1:
                seen[child.tag] = seen.get(child.tag, 0) + 1
                name += f"[{seen[child.tag]}]"
            visit(child, f"{path}/{name}")

    visit(root, "/" + etree.QName(root).localname)
    return lines


class _UndefinedPrefixes(Exception):
    def __init__(self, prefixes: frozenset[str], line: int,
                 error: etree.XMLSyntaxError) -> None:
        super().__init__(str(error))
        self.prefixes = prefixes
        self.line = line
        self.error = error


def _skip_junk(raw: bytes, quirks: list[FieldError]) -> int:
    match = _JUNK.match(raw)
    if match is None:
        return 0
    quirks.append(CodedFieldError(
        "/",
        f"expected the XML declaration first, found {raw[: match.end()].decode()!r} before "
        "the XML declaration; those characters were ignored",
        f"cần khai báo XML đứng đầu, nhận được {raw[: match.end()].decode()!r} đứng trước; "
        "các ký tự đó được bỏ qua",
        1, "xml_junk_before_declaration",
    ))
    return match.end()


def _check_encoding(raw: bytes, start: int) -> None:
    head = raw[start : start + 256]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")) or (
        len(head) > 1 and (head[0] == 0 or head[1] == 0)
    ):
        raise _not_utf8("the document is UTF-16 or UTF-32", "tài liệu mã hóa UTF-16/UTF-32")
    match = _DECLARED_ENCODING.match(head.removeprefix(_BOM_UTF8))
    if match and match.group(1).lower() not in _UTF8_NAMES:
        name = match.group(1).decode("ascii", "replace")
        raise _not_utf8(f"the document declares encoding {name!r}",
                        f"tài liệu khai báo mã hóa {name!r}")


def _not_utf8(found: str, found_vi: str) -> MalformedInput:
    return MalformedInput(
        f"{found}; the hub takes UTF-8 only",
        code="xml_not_utf8",
        errors=[CodedFieldError("/", f"expected UTF-8; {found}", f"cần UTF-8; {found_vi}", 1,
                                "xml_not_utf8")],
        detail_vi=f"Chỉ chấp nhận UTF-8; {found_vi}",
    )


def _scan_prolog(raw: bytes, start: int) -> int:
    """Offset of the root start tag; refuses a DOCTYPE before it."""
    i = start + (3 if raw.startswith(_BOM_UTF8, start) else 0)
    n = len(raw)
    while i < n:
        while i < n and raw[i] in b" \t\r\n":
            i += 1
        if raw.startswith(b"<?", i):
            end = raw.find(b"?>", i + 2)
            if end < 0:
                break
            i = end + 2
        elif raw.startswith(b"<!--", i):
            end = raw.find(b"-->", i + 4)
            if end < 0:
                break
            i = end + 3
        elif raw[i : i + 9].upper() == b"<!DOCTYPE":
            line = raw.count(b"\n", 0, i) + 1
            raise HostileInput(
                "a DOCTYPE declaration is not accepted (no DTDs, no entities)",
                code="xml_doctype",
                errors=[CodedFieldError("/", "expected no DOCTYPE, found one",
                                        "không chấp nhận khai báo DOCTYPE", line, "xml_doctype")],
                detail_vi="Không chấp nhận khai báo DOCTYPE (không DTD, không thực thể)",
            )
        else:
            break
    return i


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        collect_ids=False,
        remove_comments=False,
        remove_pis=False,
    )


def _segments(raw: bytes, start: int, root_at: int, bound: Mapping[str, str],
              elide: frozenset[str], token: bytes) -> tuple[list[bytes | memoryview],
                                                             list[tuple[int, int]]]:
    """The pieces to feed: raw bytes, declarations to bind, placeholders for content."""
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = []
    regions: list[tuple[int, int]] = []
    cursor = start
    if bound and root_at < len(raw):
        name = re.compile(rb"<[^\s/>]+").match(raw, root_at)
        if name is not None:
            pieces.append(view[cursor : name.end()])
            pieces.append(b"".join(
                b' xmlns:%s="%s"' % (p.encode(), u.encode()) for p, u in sorted(bound.items())
            ))
            cursor = name.end()
    for match in _start_tags(raw, max(cursor, root_at), elide):
        if match.start() < cursor:
            continue
        close = b"</" + match.group(1)
        end = raw.find(close, match.end())
        if end < 0 or not re.match(rb"\s*>", raw[end + len(close) : end + len(close) + 64]):
            continue
        if not _elidable(view[match.end() : end]):
            continue
        breaks = raw.count(b"\n", match.end(), end) + raw.count(b"\r", match.end(), end) \
            - raw.count(b"\r\n", match.end(), end)
        pieces.append(view[cursor : match.end()])
        pieces.append(token + b"-%d" % len(regions) + b"\n" * breaks)
        regions.append((match.end(), end))
        cursor = end
    pieces.append(view[cursor:])
    return pieces, regions


_START_TAG = re.compile(rb"<((?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*))(?:\s[^<>]*)?(?<!/)>")


def _start_tags(raw: bytes, start: int, names: frozenset[str]) -> Iterator[re.Match[bytes]]:
    """Start tags of elements with one of `names` (local names), in document order."""
    found = []
    for name in names:
        needle = name.encode()
        at = raw.find(needle, start)
        while at >= 0:
            # the name ends a start tag's name: back up to its "<", allowing for a prefix
            lt = raw.rfind(b"<", max(start, at - 256), at)
            match = _START_TAG.match(raw, lt) if lt >= 0 else None
            if match is not None and match.group(2) == needle and match.end(1) == at + len(needle):
                found.append(match)
            at = raw.find(needle, at + len(needle))
    return iter(sorted(found, key=lambda m: m.start()))


def _elidable(content: memoryview) -> bool:
    for i in range(0, len(content), _SCAN_CHUNK):
        if bytes(content[i : i + _SCAN_CHUNK]).translate(None, _ELIDABLE):
            return False
    return True


def _parse(raw: bytes, start: int, root_at: int, bound: Mapping[str, str],
           elide: frozenset[str]) -> tuple[etree._Element, dict[etree._Element, tuple[int, int]]]:
    token = b"lienthong-elided-" + secrets.token_hex(8).encode()
    pieces, regions = _segments(raw, start, root_at, bound, elide, token)
    # untouched input is parsed in place; otherwise the pieces are small but for any
    # content that could not be elided
    data = raw if len(pieces) == 1 and start == 0 else b"".join(pieces)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        _raise_parse_error(exc, parser.error_log)
    if root.getroottree().docinfo.doctype:  # refused above; never trust one scan alone
        raise HostileInput("a DOCTYPE declaration is not accepted", code="xml_doctype")
    if not regions:
        return root, {}
    elided = _match_regions(root, regions, token.decode(), elide)
    if elided is None:
        # a placeholder landed where no element content was (a comment, CDATA): parse
        # everything instead of guessing
        return _parse(raw, start, root_at, bound, frozenset())
    return root, elided


def _match_regions(root: etree._Element, regions: list[tuple[int, int]], token: str,
                   elide: frozenset[str]) -> dict[etree._Element, tuple[int, int]] | None:
    found: dict[etree._Element, tuple[int, int]] = {}
    for element in root.iter(*(f"{{*}}{name}" for name in elide)):
        text = element.text or ""
        if text.startswith(token) and len(element) == 0:
            index = int(text[len(token) + 1 :].split("\n", 1)[0])
            found[element] = regions[index]
    return found if len(found) == len(regions) else None


def _raise_parse_error(exc: etree.XMLSyntaxError, log: etree._ListErrorLog) -> NoReturn:
    entries = list(log)
    for entry in entries:
        if entry.type_name == "ERR_RESOURCE_LIMIT" and "depth" in entry.message.lower():
            raise _too_deep(entry.line) from exc
        if entry.type_name == "ERR_RESOURCE_LIMIT" and "text node" in entry.message.lower():
            raise PayloadTooLarge(
                "a text node is over 10 MB", code="xml_text_too_large",
                errors=[CodedFieldError("/", "expected text of at most 10 MB in one place, "
                                             "found more",
                                        "một nút văn bản vượt quá 10 MB", entry.line,
                                        "xml_text_too_large")],
                detail_vi="Một nút văn bản vượt quá 10 MB",
            ) from exc
        if entry.type_name == "ERR_INVALID_ENCODING":
            raise MalformedInput(
                f"the bytes are not UTF-8 at line {entry.line}, column {entry.column}",
                code="xml_not_utf8",
                errors=[CodedFieldError("/", "expected UTF-8, found invalid bytes",
                                        "cần UTF-8, gặp byte không hợp lệ", entry.line,
                                        "xml_not_utf8")],
                detail_vi=f"Byte không phải UTF-8 tại dòng {entry.line}, cột {entry.column}",
            ) from exc
    prefixes: set[str] = set()
    for entry in entries:
        match = _UNDEFINED_PREFIX.search(entry.message)
        if entry.type_name != "NS_ERR_UNDEFINED_NAMESPACE" or match is None:
            prefixes = set()
            break
        prefixes.add(match.group(1))
    if prefixes:
        raise _UndefinedPrefixes(frozenset(prefixes), entries[0].line, exc)
    raise _malformed(exc) from exc


# libxml2's parser messages, said plainly: (pattern, English, Vietnamese)
_SYNTAX: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), english, vietnamese) for pattern, english, vietnamese in (
        (r"Document is empty", "expected an XML document, found an empty body",
         "cần một tài liệu XML, nhận được nội dung rỗng"),
        (r"Start tag expected, '<' not found",
         "expected XML, which starts with '<', found other text",
         "cần nội dung XML (bắt đầu bằng '<'), nhận được văn bản khác"),
        (r"Premature end of data in tag (?P<tag>\S+) line (?P<at>\d+)",
         "expected the end of {tag} (opened at line {at}), found the end of the package",
         "thiếu thẻ đóng của {tag} (mở ở dòng {at}): gói tin kết thúc sớm"),
        (r"Opening and ending tag mismatch: (?P<tag>\S+) line (?P<at>\d+) and (?P<end>\S+)",
         "expected </{tag}> to close the element opened at line {at}, found </{end}>",
         "cần thẻ đóng </{tag}> cho phần tử mở ở dòng {at}, nhận được </{end}>"),
        (r"Namespace prefix (?P<prefix>\S+) (?:for \S+ )?on (?P<tag>\S+) is not defined",
         "expected a declaration of the prefix {prefix} used on {tag}, found none",
         "tiền tố {prefix} dùng cho {tag} chưa được khai báo"),
        (r"Entity '(?P<name>[^']*)' not defined",
         "expected no entity references, found &{name};",
         "không được dùng tham chiếu thực thể, nhận được &{name};"),
        (r"EntityRef: expecting ';'|xmlParseEntityRef: no name",
         "expected & to be written &amp;, found a bare &",
         "ký tự & phải viết là &amp;, nhận được & đứng riêng"),
        (r"Extra content at the end of the document",
         "expected nothing after the root element, found more content",
         "sau phần tử gốc không được có thêm nội dung"),
        (r"Attribute (?P<name>\S+) redefined",
         "expected each attribute once on an element, found {name} twice",
         "mỗi thuộc tính chỉ được ghi một lần, {name} bị lặp lại"),
        (r"Couldn't find end of Start Tag (?P<tag>\S+)",
         "expected the start tag of {tag} to end with '>', found something else",
         "thẻ mở của {tag} phải kết thúc bằng '>'"),
        (r"(?:PCDATA invalid Char value|Char 0x\w+ out of allowed range|invalid character)",
         "expected characters XML allows, found a control character",
         "gặp ký tự điều khiển mà XML không cho phép"),
        (r"(?:AttValue|attributes construct error|Specification mandates value)",
         "expected attributes written name=\"value\", found something else",
         "thuộc tính phải viết dạng tên=\"giá trị\""),
        (r"(?:StartTag: invalid element name|EndTag: '</' not found)",
         "expected a well-formed tag, found a '<' that starts none",
         "gặp ký tự '<' không mở thẻ hợp lệ"),
    ))


def _malformed(exc: etree.XMLSyntaxError) -> MalformedInput:
    line, column = exc.position
    message = exc.msg.split(", line ", 1)[0] if exc.msg else ""
    english, vietnamese = ("expected well-formed XML, found a syntax error",
                           "cần XML đúng cú pháp, gặp lỗi cú pháp")
    for pattern, plain, plain_vi in _SYNTAX:
        found = pattern.search(message)
        if found is not None:
            english = plain.format(**found.groupdict())
            vietnamese = plain_vi.format(**found.groupdict())
            break
    return MalformedInput(
        f"not well-formed XML: {english} (line {line}, column {column})",
        code="xml_malformed",
        errors=[CodedFieldError("/", f"{english} (column {column})",
                                f"{vietnamese} (cột {column})", line, "xml_malformed")],
        detail_vi=f"XML không đúng cú pháp: {vietnamese} (dòng {line}, cột {column})",
    )


def _too_deep(line: int | None) -> HostileInput:
    return HostileInput(
        "the XML nests too deeply",
        code="xml_too_deep",
        errors=[CodedFieldError("/", "expected less deeply nested elements, found deeper "
                                     "nesting",
                                "phần tử lồng nhau quá sâu", line, "xml_too_deep")],
        detail_vi="XML lồng nhau quá sâu",
    )


@cache
def _shape_queries(max_depth: int, max_attributes: int) -> tuple[etree.XPath, etree.XPath]:
    # "has an attribute number N+1" stops counting at N+1: cheaper than count(@*)
    return (etree.XPath("/*" + "/*" * max_depth),
            etree.XPath(f"//*[@*[{int(max_attributes) + 1}]]"))


def _check_shape(root: etree._Element, max_depth: int, max_attributes: int) -> None:
    # both checks run inside libxml2's XPath engine: microseconds for a package
    too_deep, too_many_attributes = _shape_queries(max_depth, max_attributes)
    deep = too_deep(root)
    if deep:
        exc = _too_deep(deep[0].sourceline)
        exc.detail = f"the XML nests deeper than {max_depth} levels"
        raise exc
    crowded = too_many_attributes(root)
    if crowded:
        element = crowded[0]
        raise HostileInput(
            f"an element has {len(element.attrib)} attributes; the limit is {max_attributes}",
            code="xml_too_many_attributes",
            errors=[CodedFieldError(
                element_path(element),
                f"expected at most {max_attributes} attributes, found {len(element.attrib)}",
                f"tối đa {max_attributes} thuộc tính, nhận được {len(element.attrib)}",
                element.sourceline, "xml_too_many_attributes",
            )],
            detail_vi=f"Một phần tử có quá {max_attributes} thuộc tính",
        )
