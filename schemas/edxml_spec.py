"""The edXML package tree as data: element names, JSON keys, order, occurrence per kind.

One declaration drives the canonical order for the fast XSD 1.0 check, the kind rules,
the edXML <-> JSON mapping and the tests that keep the XSDs and JSON Schemas in step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from core.model import Kind

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XLINK_NS = "http://www.w3.org/1999/xlink"

# Prefixes some producers use without declaring them (see docs/validation.md); the parser
# binds exactly these, and only when the undeclared prefix is the sole problem.
KNOWN_PREFIXES: Mapping[str, str] = MappingProxyType({"edXML": NS, "xlink": XLINK_NS})

Occurs = tuple[int, int | None]


@dataclass(frozen=True)
class Leaf:
    """Character content of the named XSD simple type; a JSON string."""

    type: str


@dataclass(frozen=True)
class Attr:
    """An attribute kept in the JSON form under `key`."""

    name: str  # Clark notation for namespaced attributes
    key: str


@dataclass(frozen=True)
class Record:
    """Element-only content; children in any order unless `ordered`; a JSON object."""

    fields: tuple[Node, ...]
    ordered: bool = False
    attrs: tuple[Attr, ...] = ()

    def field(self, tag: str) -> Node | None:
        for node in self.fields:
            if node.tag == tag:
                return node
        return None


@dataclass(frozen=True)
class ListOf:
    """A container whose children all repeat `item`; a JSON array of the item's form."""

    item: Node


@dataclass(frozen=True)
class Verbatim:
    """A block kept as XML text (the package signature), in one of `namespaces`."""

    namespaces: tuple[str, ...]


Content = Leaf | Record | ListOf | Verbatim


@dataclass(frozen=True)
class Node:
    """One element: its local name, its JSON key (None: merged into the parent object)."""

    tag: str
    key: str | None
    content: Content
    occurs: Occurs = (0, 1)
    # occurrence per package kind where it differs; a kind left out may not have it
    kinds: Mapping[Kind, Occurs] | None = field(default=None, hash=False)

    def occurs_in(self, kind: Kind) -> Occurs | None:
        """How often this element may appear in a package of `kind` (None: never)."""
        if self.kinds is None:
            return self.occurs
        return self.kinds.get(kind)

    @property
    def schema_occurs(self) -> Occurs:
        """Occurrence over both kinds: what the XSDs declare (the kind rules do the rest)."""
        if self.kinds is None:
            return self.occurs
        spans = [self.kinds.get(kind) for kind in Kind]
        lo = min(0 if span is None else span[0] for span in spans)
        his = [span[1] for span in spans if span is not None]
        return lo, None if None in his else max(h for h in his if h is not None)

    def repeated_in(self, kind: Kind) -> bool:
        """Whether the JSON form of a `kind` package holds a list of these."""
        span = self.occurs_in(kind) or self.schema_occurs
        return span[1] is None or span[1] > 1


def leaf(tag: str, key: str, type_: str, occurs: Occurs = (0, 1), **kw: object) -> Node:
    return Node(tag, key, Leaf(type_), occurs, **kw)  # type: ignore[arg-type]


def record(tag: str, key: str | None, *fields: Node, occurs: Occurs = (0, 1),
           ordered: bool = False, attrs: tuple[Attr, ...] = (),
           kinds: Mapping[Kind, Occurs] | None = None) -> Node:
    return Node(tag, key, Record(tuple(fields), ordered, attrs), occurs, kinds)


def list_of(tag: str, key: str, item: Node, occurs: Occurs = (0, 1)) -> Node:
    return Node(tag, key, ListOf(item), occurs)


DOC: Mapping[Kind, Occurs] = MappingProxyType({Kind.DOCUMENT: (0, 1)})
DOC_REQUIRED: Mapping[Kind, Occurs] = MappingProxyType({Kind.DOCUMENT: (1, 1)})
STATUS: Mapping[Kind, Occurs] = MappingProxyType({Kind.STATUS: (0, 1)})
STATUS_REQUIRED: Mapping[Kind, Occurs] = MappingProxyType({Kind.STATUS: (1, 1)})


def _organization(tag: str, key: str, occurs: Occurs, kinds: Mapping[Kind, Occurs] | None,
                  ) -> Node:
    return record(
        tag, key,
        leaf("OrganId", "organId", "OrganIdType", (1, 1)),
        leaf("OrganizationInCharge", "organizationInCharge", "Text200"),
        leaf("OrganName", "organName", "Text200"),
        leaf("OrganAdd", "organAdd", "Text500"),
        leaf("Email", "email", "Text200"),
        leaf("Telephone", "telephone", "Text100"),
        leaf("Fax", "fax", "Text100"),
        leaf("Website", "website", "Text200"),
        occurs=occurs, kinds=kinds,
    )


def _staff_info(kinds: Mapping[Kind, Occurs] | None = None) -> Node:
    return record(
        "StaffInfo", "staffInfo",
        leaf("Department", "department", "Text200"),
        leaf("Staff", "staff", "Text200"),
        leaf("Email", "email", "Text200"),
        leaf("Mobile", "mobile", "Text50"),
        kinds=kinds,
    )


RESPONSE_FOR = record(
    "ResponseFor", "responseFor",
    leaf("OrganId", "organId", "OptionalOrganIdType"),
    leaf("Code", "code", "Text100"),
    leaf("PromulgationDate", "promulgationDate", "OptionalDateType"),
    leaf("DocumentId", "documentId", "Text200"),
    kinds={Kind.DOCUMENT: (0, None), Kind.STATUS: (1, 1)},
)

# In a status package ResponseFor names the document: these must be there and not empty.
STATUS_RESPONSE_FOR_REQUIRED = ("OrganId", "DocumentId")

MESSAGE_HEADER = record(
    "MessageHeader", None,
    _organization("From", "from", (1, 1), None),
    _organization("To", "to", (1, None), {Kind.DOCUMENT: (1, None)}),
    leaf("DocumentId", "documentId", "NonEmptyText200", kinds=DOC_REQUIRED),
    record(
        "Code", "code",
        leaf("CodeNumber", "codeNumber", "NonEmptyText11", (1, 1)),
        leaf("CodeNotation", "codeNotation", "Text30", (1, 1)),
        kinds=DOC_REQUIRED,
    ),
    record(
        "PromulgationInfo", "promulgationInfo",
        leaf("Place", "place", "Text200"),
        leaf("PromulgationDate", "promulgationDate", "DateType", (1, 1)),
        kinds=DOC_REQUIRED,
    ),
    record(
        "DocumentType", "documentType",
        leaf("Type", "type", "DocumentTypeCode", (1, 1)),
        leaf("TypeDetail", "typeDetail", "Text10"),
        leaf("TypeName", "typeName", "NonEmptyText100", (1, 1)),
        kinds=DOC_REQUIRED,
    ),
    leaf("Subject", "subject", "NonEmptyText500", kinds=DOC_REQUIRED),
    leaf("Content", "content", "Text100000", kinds=DOC),
    record(
        "SignerInfo", "signerInfo",
        leaf("Competence", "competence", "Text200"),
        leaf("Position", "position", "Text200"),
        leaf("FullName", "fullName", "Text200"),
        kinds=DOC,
    ),
    leaf("DueDate", "dueDate", "OptionalDateType", kinds=DOC),
    record(
        "OtherInfo", "otherInfo",
        leaf("Priority", "priority", "PriorityType"),
        leaf("SphereOfPromulgation", "sphereOfPromulgation", "Text200"),
        leaf("TyperNotation", "typerNotation", "Text100"),
        leaf("PromulgationAmount", "promulgationAmount", "AmountType"),
        leaf("PageAmount", "pageAmount", "AmountType"),
        leaf("Direction", "direction", "Text10"),
        list_of("Appendixes", "appendixes",
                leaf("Appendix", "appendix", "Text1000", (0, None))),
        kinds=DOC,
    ),
    RESPONSE_FOR,
    leaf("SteeringType", "steeringType", "Text10", kinds=DOC),
    Node("ToPlaces", "toPlaces", ListOf(leaf("Place", "place", "Text500", (0, None))),
         kinds=DOC),
    _staff_info(STATUS),
    leaf("StatusCode", "statusCode", "StatusCodeType", kinds=STATUS_REQUIRED),
    leaf("Description", "description", "Text2000", kinds=STATUS),
    leaf("Timestamp", "timestamp", "TimestampType", kinds=STATUS_REQUIRED),
    occurs=(1, 1),
)

TRACE_HEADER_LIST = record(
    "TraceHeaderList", "traceHeaderList",
    record(
        "TraceHeader", "traceHeaders",
        leaf("OrganId", "organId", "OptionalOrganIdType", (1, 1)),
        leaf("Timestamp", "timestamp", "Text40"),
        occurs=(0, None),
    ),
    record(
        "Bussiness", "bussiness",
        leaf("DocumentId", "documentId", "Text200"),
        leaf("BussinessDocType", "bussinessDocType", "BussinessDocTypeType", (1, 1)),
        leaf("BussinessDocReason", "bussinessDocReason", "Text1000"),
        leaf("Paper", "paper", "Text10"),
        record(
            "BussinessDocumentInfo", "bussinessDocumentInfo",
            leaf("DocumentInfo", "documentInfo", "Text10"),
            leaf("DocumentReceiver", "documentReceiver", "Text10"),
            list_of("ReceiverList", "receiverList", record(
                "Receiver", "receiver",
                leaf("OrganId", "organId", "OptionalOrganIdType"),
                leaf("ReceiverType", "receiverType", "Text10"),
                occurs=(0, None),
            )),
        ),
        list_of("ReplacementInfoList", "replacementInfoList", record(
            "ReplacementInfo", "replacementInfo",
            leaf("DocumentId", "documentId", "Text200"),
            list_of("OrganIdList", "organIdList",
                    leaf("OrganId", "organId", "OptionalOrganIdType", (0, None))),
            occurs=(0, None),
        )),
        _staff_info(),
    ),
    ordered=True,
)

SIGNATURE_NAMESPACES = (NS, DSIG_NS)
SIGNATURE = Node("Signature", "signature", Verbatim(SIGNATURE_NAMESPACES))

MANIFEST = record(
    "edXMLManifest", "manifest",
    record(
        "Reference", "references",
        leaf("ContentId", "contentId", "NonEmptyText200", (1, 1)),
        leaf("ContentType", "contentType", "Text200"),
        leaf("Description", "description", "Text1000"),
        leaf("AttachmentName", "attachmentName", "Text500"),
        occurs=(0, None),
        attrs=(Attr(f"{{{XLINK_NS}}}href", "href"),),
    ),
    occurs=(1, 1),
    ordered=True,
    attrs=(Attr("version", "version"),),
)

# the attachment body: the one element whose content can be megabytes
ATTACHMENT_BODY = leaf("ContentTransferEncoded", "content", "Base64Text", (1, 1))

ATTACHMENT = record(
    "Attachment", "attachment",
    leaf("ContentId", "contentId", "NonEmptyText200", (1, 1)),
    leaf("AttachmentName", "attachmentName", "Text500"),
    leaf("Description", "description", "Text1000"),
    leaf("ContentType", "contentType", "Text200"),
    ATTACHMENT_BODY,
    occurs=(0, None),
)

PACKAGE = record(
    "edXML", None,
    record(
        "edXMLEnvelope", None,
        record("edXMLHeader", None, MESSAGE_HEADER, TRACE_HEADER_LIST, SIGNATURE,
               occurs=(1, 1), ordered=True),
        record("edXMLBody", None, MANIFEST, ordered=True, kinds=DOC_REQUIRED),
        occurs=(1, 1), ordered=True,
    ),
    Node("AttachmentEncoded", "attachments", ListOf(ATTACHMENT), kinds=DOC),
    occurs=(1, 1), ordered=True,
)

# Simple types whose text is a calendar date or timestamp (checked beyond the pattern).
DATE_TYPES = frozenset({"DateType", "OptionalDateType"})
TIMESTAMP_TYPES = frozenset({"TimestampType"})


def walk(node: Node = PACKAGE, path: tuple[Node, ...] = ()) -> Iterator[tuple[Node, ...]]:
    """Every node under `node` (depth first), as the chain of nodes from the root."""
    here = (*path, node)
    yield here
    content = node.content
    if isinstance(content, Record):
        for child in content.fields:
            yield from walk(child, here)
    elif isinstance(content, ListOf):
        yield from walk(content.item, here)


def json_fields(kind: Kind, node: Node = PACKAGE) -> Iterator[Node]:
    """The nodes whose keys make up one JSON object (merged nodes are looked through)."""
    content = node.content
    if not isinstance(content, Record):
        return
    for child in content.fields:
        if child.occurs_in(kind) is None:
            continue
        if child.key is None:
            yield from json_fields(kind, child)
        else:
            yield child
