"""XSD 1.1 validation errors (xmlschema) told as path, expected and found, in two languages."""

from __future__ import annotations

import re

from lxml import etree
from xmlschema import XMLSchemaChildrenValidationError, XMLSchemaValidationError
from xmlschema.validators.facets import (
    XsdAssertionFacet,
    XsdEnumerationFacets,
    XsdMaxLengthFacet,
    XsdMinLengthFacet,
    XsdPatternFacets,
)

from schemas.dates import not_a_real_date
from schemas.edxml_spec import (
    DATE_TYPES,
    NS,
    PACKAGE,
    TIMESTAMP_TYPES,
    XLINK_NS,
    ListOf,
    Node,
    Record,
)
from schemas.problems import CodedFieldError
from schemas.xmlparser import element_path, text_value

# what a value of each patterned type looks like, for "expected ..., found ..."
TYPE_SHAPES: dict[str, tuple[str, str]] = {
    "DateType": ("a date written yyyy/MM/dd or dd/MM/yyyy",
                 "ngày viết dạng yyyy/MM/dd hoặc dd/MM/yyyy"),
    "OptionalDateType": ("a date written yyyy/MM/dd or dd/MM/yyyy, or nothing",
                         "ngày viết dạng yyyy/MM/dd hoặc dd/MM/yyyy, hoặc để trống"),
    "TimestampType": ("a time written yyyy/MM/dd HH:mm:ss or dd/MM/yyyy HH:mm:ss",
                      "thời điểm dạng yyyy/MM/dd HH:mm:ss hoặc dd/MM/yyyy HH:mm:ss"),
    "PriorityType": ("a single digit 0-9", "một chữ số 0-9"),
    "AmountType": ("at most 9 digits", "tối đa 9 chữ số"),
    "DocumentTypeCode": ("1 to 3 digits", "1 đến 3 chữ số"),
}


_ANY_SHAPE = ("a value of the form the standard gives", "giá trị đúng định dạng quy định")
_NOT_ALLOWED_ATTRIBUTE = re.compile(r"'([^']+)' attribute not allowed")


def shown(value: object, limit: int = 60) -> str:
    """A value quoted for a message, cut short when long."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def node_for(element: etree._Element) -> Node | None:
    """The spec node an element stands for, by its place in the package."""
    chain = []
    node_el: etree._Element | None = element
    while node_el is not None:
        chain.append(node_el)
        node_el = node_el.getparent()
    chain.reverse()
    if etree.QName(chain[0]).localname != PACKAGE.tag:
        return None
    node = PACKAGE
    for el in chain[1:]:
        name = etree.QName(el).localname
        content = node.content
        if isinstance(content, Record):
            found = content.field(name)
        elif isinstance(content, ListOf) and content.item.tag == name:
            found = content.item
        else:
            found = None
        if found is None:
            return None
        node = found
    return node


def translate(error: XMLSchemaValidationError) -> CodedFieldError:
    """One xmlschema validation error as a coded, bilingual field error."""
    element: etree._Element | None = error.elem  # an lxml element: the tree is lxml's
    path = element_path(element) if element is not None else "/"
    line = error.sourceline or (element.sourceline if element is not None else None)
    if isinstance(error, XMLSchemaChildrenValidationError):
        return _children_error(error, element, path, line)
    validator = error.validator
    value = error.obj if isinstance(error.obj, str) else (
        text_value(element) if element is not None else "")
    type_name = getattr(getattr(validator, "parent", None), "local_name", None) or ""
    if isinstance(validator, XsdMaxLengthFacet):
        return CodedFieldError(
            path,
            f"expected at most {validator.value} characters, found {len(value)}",
            f"tối đa {validator.value} ký tự, nhận được {len(value)}",
            line, "value_too_long",
        )
    if isinstance(validator, XsdMinLengthFacet):
        if validator.value == 1 and not value:
            return CodedFieldError(path, "expected a value, found an empty element",
                                   "cần có giá trị, phần tử đang để trống", line, "value_empty")
        return CodedFieldError(
            path,
            f"expected at least {validator.value} characters, found {len(value)}",
            f"tối thiểu {validator.value} ký tự, nhận được {len(value)}",
            line, "value_too_short",
        )
    if isinstance(validator, XsdAssertionFacet):
        # the only assertion facets check that a date exists: say it as the fast path does
        message, message_vi = not_a_real_date(value, type_name in TIMESTAMP_TYPES)
        return CodedFieldError(path, message, message_vi, line, "date_invalid")
    if isinstance(validator, XsdPatternFacets) and type_name in DATE_TYPES | TIMESTAMP_TYPES:
        shape, shape_vi = TYPE_SHAPES[type_name]
        return CodedFieldError(path, f"expected {shape}, found {shown(value)}",
                               f"cần {shape_vi}, nhận được {shown(value)}", line,
                               "date_invalid")
    if isinstance(validator, XsdPatternFacets):
        shape, shape_vi = TYPE_SHAPES.get(type_name, _ANY_SHAPE)
        return CodedFieldError(path, f"expected {shape}, found {shown(value)}",
                               f"cần {shape_vi}, nhận được {shown(value)}", line, "value_invalid")
    if isinstance(validator, XsdEnumerationFacets):
        allowed = ", ".join(str(v) for v in validator.enumeration)
        return CodedFieldError(path, f"expected one of {allowed}, found {shown(value)}",
                               f"cần một trong các giá trị {allowed}, nhận được {shown(value)}",
                               line, "value_invalid")
    reason = error.reason or "not valid"
    attribute = _NOT_ALLOWED_ATTRIBUTE.search(reason)
    if attribute is not None:
        name = attribute.group(1)
        node = node_for(element) if element is not None else None
        attrs = node.content.attrs if node is not None and isinstance(node.content, Record) \
            else ()
        names = ", ".join(_attribute_name(a.name) for a in attrs)
        expected = f"expected only {names}" if names else "expected none"
        expected_vi = f"chỉ được có {names}" if names else "không được có"
        return CodedFieldError(path, f"unexpected attribute {name}; {expected}",
                               f"thuộc tính {name} không được phép ({expected_vi})", line,
                               "attribute_unexpected")
    if "character data" in reason:
        text = (element.text or "").strip() if element is not None else ""
        for child in element if element is not None else ():
            text = text or (child.tail or "").strip()
        return CodedFieldError(path, f"expected only child elements, found text {shown(text)}",
                               f"chỉ được chứa phần tử con, gặp văn bản {shown(text)}",
                               line, "text_unexpected")
    if element is not None and len(element) and _is_leaf(element):
        return CodedFieldError(path, "expected text only, found child elements",
                               "chỉ được chứa văn bản, gặp phần tử con", line,
                               "element_unexpected")
    # the processor's own wording never reaches a clerk: say where, and what to look at
    name = etree.QName(element).localname if element is not None else "edXML"
    return CodedFieldError(path, f"expected {name} as the edXML schema describes it, found "
                                 "something else here",
                           f"phần tử {name} không đúng cấu trúc edXML tại đây", line,
                           "schema_invalid")


def _attribute_name(clark: str) -> str:
    qname = etree.QName(clark)
    return f"xlink:{qname.localname}" if qname.namespace == XLINK_NS else qname.localname


def _is_leaf(element: etree._Element) -> bool:
    node = node_for(element)
    return node is not None and not isinstance(node.content, Record | ListOf)


def _children_error(error: XMLSchemaChildrenValidationError, parent: etree._Element,
                    path: str, line: int | None) -> CodedFieldError:
    if error.invalid_tag is None:
        names = [str(n) for n in (getattr(e, "local_name", None) for e in error.expected or ())
                 if n] or ["a required element"]
        what = names[0] if len(names) == 1 else "one of " + ", ".join(names)
        return CodedFieldError(path, f"expected element {what}, found none",
                               f"thiếu phần tử {what}", line, "element_missing")
    child = _offending_child(parent, error)
    child_path = element_path(child) if child is not None else path
    child_line = child.sourceline if child is not None else line
    qname = etree.QName(error.invalid_tag)
    node = node_for(parent)
    declared = _declared_children(node)
    if qname.namespace != NS:
        where = qname.namespace or "no namespace"
        where_vi = f"không gian tên {qname.namespace}" if qname.namespace else \
            "không thuộc không gian tên nào"
        return CodedFieldError(
            child_path,
            f"unexpected element {qname.localname} in {where}; expected elements in the "
            f"edXML namespace {NS}",
            f"phần tử {qname.localname} ({where_vi}) không được phép; cần phần tử thuộc "
            f"không gian tên {NS}",
            child_line, "element_unexpected",
        )
    if qname.localname in declared:
        count = sum(1 for c in parent if c.tag == error.invalid_tag)
        most = declared[qname.localname]
        if most is not None and count > most:
            times = "once" if most == 1 else f"{most} times"
            return CodedFieldError(
                child_path,
                f"expected {qname.localname} at most {times} here, found it {count} times",
                f"{qname.localname} chỉ được xuất hiện tối đa {most} lần, nhận được "
                f"{count} lần",
                child_line, "element_unexpected",
            )
        # declared, and not too often: it stands where the standard does not put it
        order = ", ".join(declared)
        previous = child.getprevious() if child is not None else None
        while previous is not None and not isinstance(previous.tag, str):
            previous = previous.getprevious()
        after = etree.QName(previous).localname if previous is not None else "the start"
        after_vi = etree.QName(previous).localname if previous is not None else "đầu phần tử"
        return CodedFieldError(
            child_path,
            f"expected the elements in the order {order}, found {qname.localname} after "
            f"{after}",
            f"các phần tử phải theo thứ tự {order}, nhận được {qname.localname} đứng sau "
            f"{after_vi}",
            child_line, "element_order",
        )
    allowed = ", ".join(declared) or "no child elements"
    return CodedFieldError(
        child_path,
        f"unexpected element {qname.localname}; expected one of: {allowed}",
        f"phần tử {qname.localname} không được phép ở đây; cần một trong: {allowed}",
        child_line, "element_unexpected",
    )


def _offending_child(parent: etree._Element,
                     error: XMLSchemaChildrenValidationError) -> etree._Element | None:
    children = list(parent)
    if 0 <= error.index < len(children) and children[error.index].tag == error.invalid_tag:
        return children[error.index]
    elements = [c for c in children if isinstance(c.tag, str)]
    if 0 <= error.index < len(elements) and elements[error.index].tag == error.invalid_tag:
        return elements[error.index]
    same = [c for c in children if c.tag == error.invalid_tag]
    return same[-1] if same else None


def _declared_children(node: Node | None) -> dict[str, int | None]:
    """Child names the node declares, with how often each may appear (None: unbounded)."""
    if node is None:
        return {}
    content = node.content
    if isinstance(content, Record):
        return {f.tag: f.schema_occurs[1] for f in content.fields}
    if isinstance(content, ListOf):
        return {content.item.tag: content.item.schema_occurs[1]}
    return {}


# -------------------------------------------------------------- libxml2's account, translated

_ELEMENT = re.compile(r"^Element '(?P<name>[^']*)'(?:, attribute '[^']*')?: ")
_CLARK = re.compile(r"\{([^}]*)\}([\w.\-]+)")
_PATH_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.\-]*:")
_LIBXML2: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), english, vietnamese) for pattern, english, vietnamese in (
        (r"The attribute '(?P<a>[^']*)' is not allowed",
         "unexpected attribute {a} on {name}", "thuộc tính {a} của {name} không được phép"),
        (r"\[facet 'maxLength'\] The value has a length of '(?P<n>\d+)'; this exceeds the "
         r"allowed maximum length of '(?P<m>\d+)'",
         "expected at most {m} characters, found {n}", "tối đa {m} ký tự, nhận được {n}"),
        (r"\[facet 'minLength'\] The value has a length of '0'",
         "expected a value, found an empty element", "cần có giá trị, phần tử đang để trống"),
        (r"\[facet 'minLength'\] The value has a length of '(?P<n>\d+)'; this underruns the "
         r"allowed minimum length of '(?P<m>\d+)'",
         "expected at least {m} characters, found {n}", "tối thiểu {m} ký tự, nhận được {n}"),
        (r"\[facet 'pattern'\] The value '(?P<v>.*)' is not accepted",
         "expected a value of the form the standard gives for {name}, found '{v}'",
         "giá trị '{v}' của {name} không đúng định dạng quy định"),
        (r"\[facet 'enumeration'\] The value '(?P<v>.*)' is not an element of the set "
         r"\{(?P<set>.*)\}",
         "expected one of {set}, found '{v}'",
         "cần một trong các giá trị {set}, nhận được '{v}'"),
        (r"Missing child element\(s\)\. Expected is (?:one of )?\( (?P<list>.*) \)",
         "expected element {list}, found none", "thiếu phần tử {list}"),
        (r"This element is not expected\. Expected is (?:one of )?\( (?P<list>.*) \)",
         "unexpected element {name}; expected {list} here",
         "phần tử {name} không được phép ở đây; cần {list}"),
        (r"This element is not expected",
         "unexpected element {name}", "phần tử {name} không được phép ở đây"),
        (r"Character content other than whitespace is not allowed",
         "expected only child elements in {name}, found text",
         "{name} chỉ được chứa phần tử con, gặp văn bản"),
        (r"Element content is not allowed",
         "expected text only in {name}, found child elements",
         "{name} chỉ được chứa văn bản, gặp phần tử con"),
    ))


def _plain_name(match: re.Match[str]) -> str:
    namespace, local = match.group(1), match.group(2)
    return local if namespace == NS else f"{local} (in {namespace})"


def from_libxml2(entry: etree._LogEntry) -> CodedFieldError:
    """A libxml2 validation message, told in plain words with the hub's paths and names."""
    path = _PATH_PREFIX.sub("", entry.path or "/")
    if path.startswith("/*"):
        path = "/edXML" + path[2:]
    message = entry.message
    head = _ELEMENT.match(message)
    name = _CLARK.sub(_plain_name, head.group("name")) if head else "the element"
    rest = message[head.end():] if head else message
    for pattern, english, vietnamese in _LIBXML2:
        found = pattern.search(rest)
        if found is not None:
            values = {k: _CLARK.sub(_plain_name, v).replace("'", "")
                      if k in ("list", "set") else v
                      for k, v in found.groupdict().items()}
            values["name"] = name
            return CodedFieldError(path, english.format(**values),
                                   vietnamese.format(**values), entry.line, "schema_invalid")
    return CodedFieldError(
        path, f"expected {name} as the edXML schema describes it, found something else here",
        f"phần tử {name} không đúng cấu trúc edXML tại đây", entry.line, "schema_invalid")

