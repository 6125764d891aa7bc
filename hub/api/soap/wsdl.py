"""The service description: schemas/wsdl/lienthong.wsdl with its types inlined and the
service address set to where the caller reached the hub."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

from lxml import etree

from schemas.xmlparser import parse_xml

WSDL_DIR = Path(__file__).resolve().parents[3] / "schemas" / "wsdl"
WSDL_FILE = WSDL_DIR / "lienthong.wsdl"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
ADDRESS_TAGS = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)
# generous bounds for the shipped files, which are read once at start-up
_LIMITS = {"max_depth": 32, "max_attributes": 16, "max_bytes": 1024 * 1024}


def _load(path: Path) -> etree._Element:
    return parse_xml(path.read_bytes(), **_LIMITS)


@lru_cache(maxsize=1)
def _template() -> etree._Element:
    """The WSDL with every xsd:import of a local file replaced by that file's schema, so a
    client needs one request to learn the whole service."""
    root = _load(WSDL_FILE)
    for types in root.iter(f"{{{WSDL_NS}}}types"):
        for wrapper in list(types):
            imports = wrapper.findall(f"{{{XSD_NS}}}import")
            if len(imports) != 1 or not imports[0].get("schemaLocation"):
                continue
            schema = _load(WSDL_DIR / Path(imports[0].get("schemaLocation", "")).name)
            types.replace(wrapper, schema)
    return root


def wsdl_document(address: str) -> bytes:
    """The WSDL whose service ports point at `address`.

    Raises OSError or HubError only when the shipped files are missing or broken.
    """
    root = copy.deepcopy(_template())
    for tag in ADDRESS_TAGS:
        for element in root.iter(tag):
            element.set("location", address)
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)
