"""Packages showing each deviation real producers and the national platform make, in edXML
and in the JSON form: each a precise mutation of a real corpus package.

Under the interop profile each is accepted with a warning carrying `code` at `path`;
under the strict profile each is refused with an error of the same code at the same path.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.model import Form, Kind
from schemas.mapping import edxml_to_json
from tests.edxml_support import corpus, mutate

MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
HEADER = "/edXML/edXMLEnvelope/edXMLHeader"
TRACE = f"{HEADER}/TraceHeaderList"
DOCUMENT_ID = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
CRLF = "\r\n"


def _zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("van-ban.txt", "Văn bản điện tử")
    return buf.getvalue()


# edoc_update.edxml (the national platform's own update of a document) with its 360 KB
# attachment swapped for a small real ZIP; its From is 000.00.00.G22
DOC = re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*",
             lambda m: m.group(1) + base64.b64encode(_zip_file()), corpus("edoc_update.edxml"))
STATUS = corpus("status.edxml")  # from 000.00.00.H41, for a document of 000.00.00.G22
HOP = "<edXML:TraceHeader>\r\n          <edXML:OrganId>000.00.00.G22</edXML:OrganId>"
BUSINESS = "<edXML:Bussiness>"
TRACE_END = "</edXML:TraceHeaderList>"


@dataclass(frozen=True)
class Deviation:
    """A package with one deviation: what the interop profile warns of and strict refuses."""

    id: str
    raw: bytes
    code: str
    path: str
    kind: Kind = Kind.DOCUMENT
    form: Form = Form.EDXML
    line: int | None = None

    @property
    def media_type(self) -> str:
        return self.form.media_type


def doc(old: str, new: str) -> bytes:
    return mutate(DOC, old, new)


def _signature_first() -> bytes:
    """The Signature block moved before the trace list, as some relays write the header."""
    text = DOC.decode("utf-8")
    signature = re.search(r"<Signature>.*?</Signature>\r\n\s*", text, flags=re.S)
    assert signature is not None
    text = text[: signature.start()] + text[signature.end():]
    return text.replace("<edXML:TraceHeaderList>", signature.group(0) + "<edXML:TraceHeaderList>",
                        1).encode("utf-8")


def _repeated_recipient() -> bytes:
    text = DOC.decode("utf-8")
    first = re.search(r"<edXML:To>.*?</edXML:To>", text, flags=re.S)
    assert first is not None
    marker = f"<edXML:DocumentId>{DOCUMENT_ID}</edXML:DocumentId>"
    return text.replace(marker, first.group(0) + CRLF + "        " + marker, 1).encode("utf-8")


def _hop(organ_id: str | None) -> str:
    organ = "" if organ_id is None else f"<edXML:OrganId>{organ_id}</edXML:OrganId>"
    return (f"<edXML:TraceHeader>{organ}<edXML:Timestamp>2025/03/14 09:30:00"
            "</edXML:Timestamp></edXML:TraceHeader>")


EDXML_CASES = [
    Deviation("CodeNumber made from a timestamp (14 digits)",
              doc("<edXML:CodeNumber>7816<", "<edXML:CodeNumber>20250314093000<"),
              "value_too_long", f"{MH}/Code/CodeNumber", line=48),
    Deviation("Subject of 600 characters",
              doc("<edXML:Subject>V/v kết nối", "<edXML:Subject>" + "V" * 589 + "V/v kết nối"),
              "value_too_long", f"{MH}/Subject", line=60),
    Deviation("trace hop without an OrganId", doc(BUSINESS, _hop(None) + BUSINESS),
              "trace_hop_incomplete", f"{TRACE}/TraceHeader[2]", line=90),
    *(Deviation(f"trace hop with the placeholder {value!r}",
                doc(BUSINESS, _hop(value) + BUSINESS),
                "trace_hop_incomplete", f"{TRACE}/TraceHeader[2]/OrganId", line=90)
      for value in ("", "null", "-", "000.00.00.000")),
    Deviation("trace hop of a test platform", doc(HOP, HOP.replace("000.00.00.G22",
                                                                   "vxp.saas.03")),
              "organ_id_nonstandard", f"{TRACE}/TraceHeader/OrganId", line=87),
    Deviation("a relay's hop after the Bussiness block",
              doc(TRACE_END, _hop("000.00.00.H57") + TRACE_END),
              "trace_order", f"{TRACE}/TraceHeader[2]", line=116),
    Deviation("Signature before the trace list", _signature_first(),
              "header_order", f"{HEADER}/TraceHeaderList", line=106),
    Deviation("sender of a test platform (vxp.saas.03)",
              doc("<edXML:OrganId>000.00.00.G22<", "<edXML:OrganId>vxp.saas.03<"),
              "organ_id_nonstandard", f"{MH}/From/OrganId", line=7),
    Deviation("the same recipient twice", _repeated_recipient(),
              "recipient_repeated", f"{MH}/To[4]", line=46),
    Deviation("ISO date", doc("<edXML:PromulgationDate>2018/09/28<",
                              "<edXML:PromulgationDate>2018-09-28<"),
              "date_format", f"{MH}/PromulgationInfo/PromulgationDate", line=53),
    Deviation("ISO date with a time and a zone", doc("<edXML:DueDate>2018/09/28<",
                                                     "<edXML:DueDate>2018-10-05T17:00:00+07:00<"),
              "date_format", f"{MH}/DueDate", line=67),
    Deviation("a date with a time", doc("<edXML:PromulgationDate>2018/09/28<",
                                        "<edXML:PromulgationDate>2018/09/28 08:00:00<"),
              "date_format", f"{MH}/PromulgationInfo/PromulgationDate", line=53),
    Deviation("status timestamp in ISO 8601",
              mutate(STATUS, "2018/09/28 17:25:11", "2018-09-28T17:25:11+07:00"),
              "date_format", f"{MH}/Timestamp", kind=Kind.STATUS, line=30),
    Deviation("characters before the XML declaration", b"1212" + DOC,
              "xml_junk_before_declaration", "/", line=1),
    Deviation("the edXML: prefix undeclared",
              mutate(STATUS, ' xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"', ""),
              "xml_undeclared_prefix", "/", kind=Kind.STATUS, line=3),
]


def _json(base: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    pkg = copy.deepcopy(edxml_to_json(base))
    change(pkg)
    return json.dumps(pkg, ensure_ascii=False).encode("utf-8")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(pkg: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = pkg
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return change


def _append_hop(hop: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def change(pkg: dict[str, Any]) -> None:
        pkg["traceHeaderList"]["traceHeaders"].append(hop)
    return change


def _repeat_first_recipient(pkg: dict[str, Any]) -> None:
    pkg["to"].append(dict(pkg["to"][0]))


JSON_CASES = [
    Deviation("JSON: CodeNumber made from a timestamp",
              _json(DOC, _set("/code/codeNumber", "20250314093000")), "value_too_long",
              "/code/codeNumber", form=Form.JSON),
    Deviation("JSON: trace hop without an organId",
              _json(DOC, _append_hop({"timestamp": "2025/03/14 09:30:00"})),
              "trace_hop_incomplete", "/traceHeaderList/traceHeaders/1", form=Form.JSON),
    Deviation("JSON: trace hop with a placeholder",
              _json(DOC, _append_hop({"organId": "null", "timestamp": "2025/03/14 09:30:00"})),
              "trace_hop_incomplete", "/traceHeaderList/traceHeaders/1/organId",
              form=Form.JSON),
    Deviation("JSON: sender of a test platform",
              _json(DOC, _set("/from/organId", "vxp.saas.03")), "organ_id_nonstandard",
              "/from/organId", form=Form.JSON),
    Deviation("JSON: the same recipient twice", _json(DOC, _repeat_first_recipient),
              "recipient_repeated", "/to/3", form=Form.JSON),
    Deviation("JSON: ISO date", _json(DOC, _set("/promulgationInfo/promulgationDate",
                                                 "2018-09-28")),
              "date_format", "/promulgationInfo/promulgationDate", form=Form.JSON),
    Deviation("JSON: status timestamp in ISO 8601",
              _json(STATUS, _set("/timestamp", "2018-09-28T17:25:11Z")), "date_format",
              "/timestamp", kind=Kind.STATUS, form=Form.JSON),
]

CASES = EDXML_CASES + JSON_CASES


def with_document_id(case: Deviation, document_id: str) -> bytes:
    """The case's package with another DocumentId, so that each is a new document."""
    if case.kind is Kind.STATUS:
        return case.raw
    if case.form is Form.JSON:
        pkg = json.loads(case.raw)
        pkg["documentId"] = document_id
        return json.dumps(pkg, ensure_ascii=False).encode("utf-8")
    old = f"<edXML:DocumentId>{DOCUMENT_ID}</edXML:DocumentId>".encode()
    assert old in case.raw
    return case.raw.replace(old, f"<edXML:DocumentId>{document_id}</edXML:DocumentId>".encode(), 1)
