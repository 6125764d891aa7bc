"""A small XML-DSig signer for tests: signs edXML packages the way real producers do.

A `ds:Signature` goes into `edXMLHeader` (replacing any dummy Signature block), enveloped,
one `Reference URI=""` over the whole package. Every knob a wrapping attack needs is a
keyword, so the tests can build the bad variants from the same code as the good ones.
Written from the specifications with lxml's C14N and `cryptography`; the tests check that
an independent implementation (xmlsec) accepts what it signs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from schemas.edxml_spec import KNOWN_PREFIXES
from schemas.xmlparser import parse_xml_document
from tests.pki import Issued

DS = "http://www.w3.org/2000/09/xmldsig#"
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
MORE07 = "http://www.w3.org/2007/05/xmldsig-more#"
ENVELOPED = DS + "enveloped-signature"
C14N = {
    "exc": "http://www.w3.org/2001/10/xml-exc-c14n#",
    "inc": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
}
DIGESTS = {
    "sha256": ("http://www.w3.org/2001/04/xmlenc#sha256", hashlib.sha256),
    "sha512": ("http://www.w3.org/2001/04/xmlenc#sha512", hashlib.sha512),
    "sha1": (DS + "sha1", hashlib.sha1),
}
# name -> (URI, hash, scheme)
METHODS: dict[str, tuple[str, Any, str]] = {
    "rsa-sha256": (MORE + "rsa-sha256", hashes.SHA256, "pkcs1"),
    "rsa-sha512": (MORE + "rsa-sha512", hashes.SHA512, "pkcs1"),
    "rsa-sha1": (DS + "rsa-sha1", hashes.SHA1, "pkcs1"),
    "rsa-pss-sha256": (MORE07 + "sha256-rsa-MGF1", hashes.SHA256, "pss"),
    "rsa-pss-sha512": (MORE07 + "sha512-rsa-MGF1", hashes.SHA512, "pss"),
    "ecdsa-sha256": (MORE + "ecdsa-sha256", hashes.SHA256, "ecdsa"),
    "hmac-sha256": (MORE + "hmac-sha256", hashes.SHA256, "hmac"),
}


def q(tag: str) -> str:
    return f"{{{DS}}}{tag}"


def header(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{EDXML}}}edXMLEnvelope/{{{EDXML}}}edXMLHeader")
    assert found is not None, "not an edXML package"
    return found


def strip_signatures(root: etree._Element) -> None:
    """Remove the dummy Signature blocks (either namespace) from the header."""
    head = header(root)
    for old in [*head.findall(f"{{{EDXML}}}Signature"), *head.findall(q("Signature"))]:
        detach(old)


def detach(element: etree._Element) -> tuple[etree._Element, int, str | None]:
    """Remove `element` but keep its tail text in the document (as XML-DSig's enveloped
    transform does); returns what `reattach` needs."""
    parent = element.getparent()
    assert parent is not None
    index = parent.index(element)
    tail = element.tail
    previous = element.getprevious()
    saved = previous.tail if previous is not None else parent.text
    parent.remove(element)
    element.tail = tail
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    return parent, index, saved


def reattach(element: etree._Element, where: tuple[etree._Element, int, str | None]) -> None:
    parent, index, saved = where
    previous = parent[index - 1] if index > 0 else None
    if previous is not None:
        previous.tail = saved
    else:
        parent.text = saved
    parent.insert(index, element)


def c14n(node: etree._Element | etree._ElementTree, algorithm: str) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=algorithm == C14N["exc"],
                          with_comments=False)


def digest_of_package(root: etree._Element, signature: etree._Element | None, c14n_uri: str,
                      digest: str) -> bytes:
    where = detach(signature) if signature is not None else None
    try:
        data = c14n(root.getroottree(), c14n_uri)
    finally:
        if signature is not None and where is not None:
            reattach(signature, where)
    return DIGESTS[digest][1](data).digest()


def raw_signature(key: Any, data: bytes, method: str, hmac_key: bytes | None = None) -> bytes:
    _, hash_cls, scheme = METHODS[method]
    if scheme == "hmac":
        assert hmac_key is not None
        return hmac.new(hmac_key, data, hash_cls.name).digest()
    if scheme == "pkcs1":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PKCS1v15(), hash_cls())
    if scheme == "pss":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hash_cls()),
                                          salt_length=hash_cls().digest_size), hash_cls())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hash_cls())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def build_signature(
    *,
    method: str = "rsa-sha256",
    digest: str = "sha256",
    c14n_name: str = "exc",
    references: list[str] | None = None,
    transforms: list[str] | None = None,
    certs: list[Any] | None = None,
    key_value: Any = None,
    prefix: str | None = "ds",
) -> etree._Element:
    """The Signature skeleton: digests and value still empty."""
    nsmap = {prefix: DS}
    sig = etree.Element(q("Signature"), nsmap=nsmap)  # type: ignore[dict-item]
    info = etree.SubElement(sig, q("SignedInfo"))
    etree.SubElement(info, q("CanonicalizationMethod"), Algorithm=C14N[c14n_name])
    etree.SubElement(info, q("SignatureMethod"), Algorithm=METHODS[method][0])
    for uri in references if references is not None else [""]:
        ref = etree.SubElement(info, q("Reference"), URI=uri)
        chain = transforms if transforms is not None else [ENVELOPED, C14N[c14n_name]]
        if chain:
            ts = etree.SubElement(ref, q("Transforms"))
            for algorithm in chain:
                etree.SubElement(ts, q("Transform"), Algorithm=algorithm)
        etree.SubElement(ref, q("DigestMethod"), Algorithm=DIGESTS[digest][0])
        etree.SubElement(ref, q("DigestValue"))
    etree.SubElement(sig, q("SignatureValue"))
    if certs or key_value is not None:
        info_el = etree.SubElement(sig, q("KeyInfo"))
        if key_value is not None:
            kv = etree.SubElement(etree.SubElement(info_el, q("KeyValue")), q("RSAKeyValue"))
            numbers = key_value.public_numbers()
            etree.SubElement(kv, q("Modulus")).text = _b64int(numbers.n)
            etree.SubElement(kv, q("Exponent")).text = _b64int(numbers.e)
        if certs:
            data = etree.SubElement(info_el, q("X509Data"))
            for cert in certs:
                etree.SubElement(data, q("X509Certificate")).text = base64.b64encode(
                    cert.public_bytes(serialization.Encoding.DER)).decode()
    return sig


def _b64int(n: int) -> str:
    return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()


def finish(root: etree._Element, sig: etree._Element, key: Any, *, digest: str = "sha256",
           hmac_key: bytes | None = None) -> None:
    """Fill in every whole-package digest, then the signature value."""
    info = sig.find(q("SignedInfo"))
    assert info is not None
    c14n_uri = info.find(q("CanonicalizationMethod")).get("Algorithm")  # type: ignore[union-attr]
    method = next(name for name, spec in METHODS.items()
                  if spec[0] == info.find(q("SignatureMethod")).get("Algorithm"))  # type: ignore[union-attr]
    for ref in info.findall(q("Reference")):
        if ref.get("URI") == "":
            value = digest_of_package(root, sig, c14n_uri, digest)
            ref.find(q("DigestValue")).text = base64.b64encode(value).decode()  # type: ignore[union-attr]
    value = raw_signature(key, c14n(info, c14n_uri), method, hmac_key)
    sig.find(q("SignatureValue")).text = base64.b64encode(value).decode()  # type: ignore[union-attr]


def parse(raw: bytes) -> etree._Element:
    """Read as the hub does; an undeclared xlink:/edXML: prefix gets its declaration, as a
    producer must give it before it can sign."""
    return parse_xml_document(raw, max_depth=64, max_attributes=32, max_bytes=1 << 26,
                              known_prefixes=KNOWN_PREFIXES).root


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def sign_edxml(raw: bytes, signer: Issued | None, *, method: str = "rsa-sha256",
               digest: str = "sha256", c14n_name: str = "exc",
               certs: list[Any] | None = None, key_value: Any = None,
               hmac_key: bytes | None = None, prefix: str | None = "ds",
               tamper: Callable[[etree._Element, etree._Element], None] | None = None,
               **build: Any) -> bytes:
    """`raw` signed by `signer` (its certificate and chain in KeyInfo unless `certs`).

    `tamper(root, signature)` runs before signing: to move things about for the attacks.
    """
    root = parse(raw)
    strip_signatures(root)
    sig = build_signature(method=method, digest=digest, c14n_name=c14n_name,
                          certs=certs if certs is not None else (signer.certs if signer else []),
                          key_value=key_value, prefix=prefix, **build)
    sig.tail = "\n    "
    header(root).append(sig)
    if tamper is not None:
        tamper(root, sig)
    finish(root, sig, signer.key if signer else None, digest=digest, hmac_key=hmac_key)
    return serialise(root)
