"""XML-DSig on edXML: the one profile the hub accepts, checked in the tree, then verified.

The profile is where real producers put their signature, and nothing looser:
- one `ds:Signature` (several only when the system allows co-signatures), a child of
  `edXML/edXMLEnvelope/edXMLHeader`;
- exactly one `Reference URI=""` (the whole package) with the transforms `enveloped-signature`
  and optionally one C14N 1.0 or exclusive C14N; any other reference must point, by `#Id`,
  into an `Object` of the same signature (signed properties such as the signing time), and
  every `Object` must be, or hold, what such a reference covers;
- no reference to anything outside the package (it would never be fetched), no XPath,
  XSLT or base64 transforms, no HMAC, SHA-1 only where the system allows it;
- an X.509 certificate in `KeyInfo/X509Data` (a bare `KeyValue` proves no identity); a
  `RetrievalMethod` is refused;
- no text in the signed package split by a comment or processing instruction (the digest
  would read it whole, a careless reader in part).
Only after these checks does xmlsec (libxmlsec1, on the very tree the hardened parser
built: lxml and xmlsec share one libxml2) verify the digests and the signature value, with
the key of a certificate whose chain `pki.py` has already checked. No key from the
document itself, no trust store of xmlsec's, no URI resolution.

The placeholder blocks of the public SDK samples are recognised (`survey`) so a policy of
`if-present` can carry them as unsigned: a `Signature` in the edXML namespace (not an XML
signature at all), and a `ds:Signature` whose value is the SDK's sample value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from core.errors import SignatureRefused
from schemas.edxml_spec import DSIG_NS, NS
from schemas.xmlparser import element_path
from security.signatures.algorithms import BY_XML_URI, DIGESTS, Algorithm, hmac_uri
from security.signatures.policy import Policy
from security.signatures.refusals import refuse

DS = DSIG_NS
ENVELOPED = DS + "enveloped-signature"
C14N_METHODS = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": "c14n",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": "c14n-with-comments",
    "http://www.w3.org/2001/10/xml-exc-c14n#": "exc-c14n",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": "exc-c14n-with-comments",
}
_ID_ATTRIBUTES = ("Id", "ID", "id")
# SHA-256 of the SignatureValue (whitespace removed) that the public VDXP SDK samples all
# carry: copied from package to package, it signs nothing
SDK_SAMPLE_VALUES = frozenset({
    "8c88b59e6ceda796cd17b7d3cf98fd8fd9b84e07bbc16529c92c23c62fc4feaa",
})


def check_libxml2() -> None:
    """Raises RuntimeError when xmlsec and lxml were built against different libxml2
    versions: a tree handed from one to the other would be read with the wrong layout."""
    if tuple(xmlsec.get_libxml_version()) != tuple(etree.LIBXML_VERSION):
        raise RuntimeError(
            f"xmlsec uses libxml2 {xmlsec.get_libxml_version()} and lxml "
            f"{etree.LIBXML_VERSION}: install the versions pinned in constraints.txt")


def q(tag: str) -> str:
    return f"{{{DS}}}{tag}"


@dataclass(frozen=True)
class Survey:
    """The signatures of a package, and the placeholder blocks found beside them."""

    signatures: tuple[etree._Element, ...]
    placeholders: tuple[str, ...]
    # the source line of each placeholder block, in the same order
    placeholder_lines: tuple[int | None, ...] = ()


def survey(root: etree._Element) -> Survey:
    """Every `ds:Signature` in the document, the SDK placeholders set apart."""
    real: list[etree._Element] = []
    placeholders: list[str] = []
    lines: list[int | None] = []
    for element in root.iter(f"{{{NS}}}Signature"):
        placeholders.append(f"{element_path(element)}: {EDXML_BLOCK}")
        lines.append(element.sourceline)
    for element in root.iter(q("Signature")):
        value = element.find(q("SignatureValue"))
        text = "".join((value.text or "").split()) if value is not None else ""
        if hashlib.sha256(text.encode()).hexdigest() in SDK_SAMPLE_VALUES:
            placeholders.append(f"{element_path(element)}: {SDK_SAMPLE}")
            lines.append(element.sourceline)
        else:
            real.append(element)
    return Survey(tuple(real), tuple(placeholders), tuple(lines))


# what a placeholder block is (English): the verdict's note, and the warning's sentence
EDXML_BLOCK = "a Signature block in the edXML namespace (not an XML signature)"
SDK_SAMPLE = "the sample signature of the VDXP SDK (copied between packages, it signs nothing)"


@dataclass(frozen=True)
class Checked:
    """One signature that passed the profile: what it claims, still to be verified."""

    element: etree._Element
    algorithm: Algorithm
    digest: str
    canonicalization: str
    reference_c14n: str | None  # the C14N transform of the whole-package reference
    digest_value: bytes
    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    signing_time: str | None
    id_holders: tuple[etree._Element, ...]  # the Objects whose Ids the references use
    covers: tuple[str, ...]  # what the references cover, for the verdict


def check_location(root: etree._Element, signature: etree._Element) -> None:
    """Raises SignatureRefused (signature_misplaced) unless a child of edXMLHeader."""
    parent = signature.getparent()
    envelope = parent.getparent() if parent is not None else None
    if (root.tag != f"{{{NS}}}edXML" or parent is None or envelope is None
            or parent.tag != f"{{{NS}}}edXMLHeader" or envelope.tag != f"{{{NS}}}edXMLEnvelope"
            or envelope.getparent() is not root):
        raise refuse("signature_misplaced", f"found at {element_path(signature)}",
                     f"nằm tại {element_path(signature)}", path=element_path(signature))


def _children(element: etree._Element) -> list[etree._Element]:
    # comments and processing instructions inside the Signature are not part of its
    # structure (and not signed by the whole-package reference, which excludes it)
    return [c for c in element if isinstance(c.tag, str)]


def _malformed(signature: etree._Element, why: str, why_vi: str) -> SignatureRefused:
    return refuse("signature_malformed", why, why_vi, path=element_path(signature))


def _b64(element: etree._Element | None, what: str, signature: etree._Element) -> bytes:
    text = "".join((element.text or "").split()) if element is not None else ""
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if not value:
        raise _malformed(signature, f"{what} is missing or not base64",
                         f"{what} thiếu hoặc không phải base64")
    return value


def check_profile(root: etree._Element, signature: etree._Element, policy: Policy) -> Checked:
    """The structural checks of the module docstring, in the order a reader would make them.

    Raises SignatureRefused with the code of the first rule broken.
    """
    check_location(root, signature)
    parts = _children(signature)
    names = [etree.QName(p).localname if etree.QName(p).namespace == DS else p.tag
             for p in parts]
    if names[:2] != ["SignedInfo", "SignatureValue"]:
        raise _malformed(signature, "expected SignedInfo then SignatureValue",
                         "cần SignedInfo rồi SignatureValue")
    rest = names[2:]
    if rest and rest[0] == "KeyInfo":
        rest = rest[1:]
    if any(n != "Object" for n in rest):
        raise _malformed(signature, f"unexpected children {', '.join(map(str, rest))}",
                         f"phần tử con không hợp lệ {', '.join(map(str, rest))}")
    info, value = parts[0], parts[1]
    key_info = parts[2] if len(parts) > 2 and names[2] == "KeyInfo" else None
    objects = [p for p, n in zip(parts, names, strict=True) if n == "Object"]

    algorithm, c14n = _signed_info_methods(info, signature, policy)
    references = [c for c in _children(info) if c.tag == q("Reference")]
    if len(_children(info)) != 2 + len(references) or not references:
        raise _malformed(signature, "SignedInfo must hold CanonicalizationMethod, "
                         "SignatureMethod and References only",
                         "SignedInfo chỉ gồm CanonicalizationMethod, SignatureMethod, Reference")
    whole, id_holders, covered = _references(root, signature, references, objects, policy)
    digest_name = _digest_method(whole, signature, policy)
    for ref in references:
        _digest_method(ref, signature, policy)
    for obj in objects:
        if not any(obj is c or c in obj.iter() for c in covered):
            raise refuse("signature_unsigned_content",
                         "an Object that no reference covers",
                         "một Object không được tham chiếu nào bao trùm",
                         path=element_path(obj))
    _b64(value, "SignatureValue", signature)
    leaf, intermediates = _certificates(key_info, signature)
    _key_fits(leaf, algorithm)
    return Checked(
        element=signature, algorithm=algorithm, digest=digest_name, canonicalization=c14n,
        reference_c14n=_reference_c14n(whole),
        digest_value=_b64(whole.find(q("DigestValue")), "DigestValue", signature),
        leaf=leaf, intermediates=intermediates, signing_time=_signing_time(covered),
        id_holders=tuple(id_holders),
        covers=("the whole package (Reference URI=\"\", enveloped)",
                *(f"{element_path(c)} (signed property)" for c in covered)))


def _signed_info_methods(info: etree._Element, signature: etree._Element,
                         policy: Policy) -> tuple[Algorithm, str]:
    kids = _children(info)
    if len(kids) < 2 or kids[0].tag != q("CanonicalizationMethod") \
            or kids[1].tag != q("SignatureMethod"):
        raise _malformed(signature, "SignedInfo must start with CanonicalizationMethod and "
                         "SignatureMethod", "SignedInfo phải bắt đầu bằng "
                         "CanonicalizationMethod và SignatureMethod")
    c14n_uri = kids[0].get("Algorithm", "")
    if c14n_uri not in C14N_METHODS:
        raise refuse("signature_algorithm_refused", f"canonicalization {c14n_uri!r}",
                     f"phương pháp chuẩn hóa {c14n_uri!r}", path=element_path(kids[0]))
    method_uri = kids[1].get("Algorithm", "")
    if hmac_uri(method_uri):
        raise refuse("signature_algorithm_refused",
                     f"{method_uri}: a keyed hash (HMAC) proves nothing about the sender",
                     f"{method_uri}: mã băm có khóa (HMAC) không chứng minh được người gửi",
                     path=element_path(kids[1]))
    algorithm = BY_XML_URI.get(method_uri)
    if algorithm is None or len(_children(kids[1])):
        raise refuse("signature_algorithm_refused", f"signature method {method_uri!r}",
                     f"thuật toán ký {method_uri!r}", path=element_path(kids[1]))
    policy.check_algorithm(algorithm)
    return algorithm, C14N_METHODS[c14n_uri]


def _references(root: etree._Element, signature: etree._Element,
                references: list[etree._Element], objects: list[etree._Element],
                policy: Policy) -> tuple[etree._Element, list[etree._Element],
                                         list[etree._Element]]:
    """The whole-package reference, the Objects holding Ids, what the #Id references cover."""
    for ref in references:
        uri = ref.get("URI")
        if uri is not None and uri != "" and not uri.startswith("#"):
            raise refuse("signature_reference_external", f"Reference URI={uri!r}",
                         f"Reference URI={uri!r}", path=element_path(ref))
    whole = [r for r in references if r.get("URI") == ""]
    if len(whole) != 1:
        raise refuse("signature_not_whole_package",
                     f"{len(whole)} references with URI=\"\" (exactly one is needed)",
                     f"có {len(whole)} tham chiếu URI=\"\" (cần đúng một)",
                     path=element_path(signature))
    _whole_transforms(whole[0])
    covered: list[etree._Element] = []
    holders: list[etree._Element] = []
    for ref in references:
        if ref is whole[0]:
            continue
        uri = ref.get("URI")
        if uri is None or uri.startswith("#xpointer"):
            raise refuse("signature_not_whole_package",
                         f"Reference URI={uri!r}: only URI=\"\" covers the package",
                         f"Reference URI={uri!r}: chỉ URI=\"\" bao trùm gói tin",
                         path=element_path(ref))
        target, holder = _resolve_id(root, objects, uri[1:], ref)
        _property_transforms(ref)
        covered.append(target)
        holders.append(holder)
    return whole[0], holders, covered


def _transforms(ref: etree._Element) -> list[etree._Element]:
    kids = _children(ref)
    container = [k for k in kids if k.tag == q("Transforms")]
    if len(container) > 1 or [k.tag for k in kids if k.tag != q("Transforms")] != [
            q("DigestMethod"), q("DigestValue")]:
        raise refuse("signature_malformed",
                     "a Reference must hold Transforms?, DigestMethod, DigestValue",
                     "Reference phải gồm Transforms?, DigestMethod, DigestValue",
                     path=element_path(ref))
    if not container:
        return []
    transforms = _children(container[0])
    if any(t.tag != q("Transform") for t in transforms):
        raise refuse("signature_malformed", "Transforms may hold Transform elements only",
                     "Transforms chỉ gồm các phần tử Transform", path=element_path(ref))
    return transforms


def _check_c14n_transform(transform: etree._Element) -> None:
    algorithm = transform.get("Algorithm", "")
    allowed_children = {"{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces"} \
        if algorithm.startswith("http://www.w3.org/2001/10/xml-exc-c14n#") else set()
    if algorithm not in C14N_METHODS or any(
            c.tag not in allowed_children for c in _children(transform)):
        raise refuse("signature_transform_refused", f"transform {algorithm!r}",
                     f"phép biến đổi {algorithm!r}", path=element_path(transform))


def _whole_transforms(ref: etree._Element) -> None:
    transforms = _transforms(ref)
    if not transforms or transforms[0].get("Algorithm") != ENVELOPED \
            or _children(transforms[0]) or len(transforms) > 2:
        found = ", ".join(t.get("Algorithm", "?") for t in transforms) or "none"
        raise refuse("signature_transform_refused",
                     f"the whole-package reference needs enveloped-signature, then at most "
                     f"one canonicalization; found {found}",
                     f"tham chiếu toàn gói cần enveloped-signature rồi tối đa một phép chuẩn "
                     f"hóa; nhận được {found}", path=element_path(ref))
    for transform in transforms[1:]:
        _check_c14n_transform(transform)


def _property_transforms(ref: etree._Element) -> None:
    transforms = _transforms(ref)
    if len(transforms) > 1:
        raise refuse("signature_transform_refused", "a property reference takes at most one "
                     "canonicalization", "tham chiếu thuộc tính chỉ được một phép chuẩn hóa",
                     path=element_path(ref))
    for transform in transforms:
        _check_c14n_transform(transform)


def _reference_c14n(ref: etree._Element) -> str | None:
    transforms = _transforms(ref)
    return transforms[1].get("Algorithm") if len(transforms) > 1 else None


def _digest_method(ref: etree._Element, signature: etree._Element, policy: Policy) -> str:
    method = ref.find(q("DigestMethod"))
    uri = method.get("Algorithm", "") if method is not None else ""
    name = DIGESTS.get(uri)
    if name is None:
        raise refuse("signature_algorithm_refused", f"digest method {uri!r}",
                     f"hàm băm {uri!r}", path=element_path(ref))
    policy.check_digest(name)
    return name


def _resolve_id(root: etree._Element, objects: list[etree._Element], wanted: str,
                ref: etree._Element) -> tuple[etree._Element, etree._Element]:
    """The element an `#Id` reference covers: unique in the whole document and inside an
    Object of this signature; anything else is a reference into the package proper."""
    everywhere = [e for e in root.iter() if isinstance(e.tag, str)
                  and any(e.get(a) == wanted for a in _ID_ATTRIBUTES)]
    for obj in objects:
        for element in obj.iter():
            if element in everywhere and len(everywhere) == 1:
                return element, obj
    raise refuse("signature_not_whole_package",
                 f"Reference URI=\"#{wanted}\" covers part of the package, not a signed "
                 f"property of the signature" + (" (the Id is not unique)"
                                                  if len(everywhere) > 1 else ""),
                 f"Reference URI=\"#{wanted}\" chỉ bao một phần gói tin", path=element_path(ref))


def _signing_time(covered: list[etree._Element]) -> str | None:
    for element in covered:
        for found in element.iter("{*}SigningTime"):
            text = (found.text or "").strip()
            if text:
                return text
    return None


_KEY_INFO_CHILDREN = {q("X509Data"), q("KeyName"), q("KeyValue"),
                      "{http://www.w3.org/2009/xmldsig11#}DEREncodedKeyValue"}
_X509_CHILDREN = {q("X509Certificate"), q("X509IssuerSerial"), q("X509SubjectName"),
                  q("X509SKI"), "{http://www.w3.org/2009/xmldsig11#}X509Digest"}


def _certificates(key_info: etree._Element | None, signature: etree._Element
                  ) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """The signer's certificate and the others sent with it (possible intermediates)."""
    kids = _children(key_info) if key_info is not None else []
    for kid in kids:
        if kid.tag == q("RetrievalMethod"):
            raise refuse("signature_reference_external",
                         f"KeyInfo/RetrievalMethod URI={kid.get('URI')!r}",
                         f"KeyInfo/RetrievalMethod URI={kid.get('URI')!r}",
                         path=element_path(kid))
        if kid.tag not in _KEY_INFO_CHILDREN:
            raise _malformed(signature, f"KeyInfo holds {kid.tag}",
                             f"KeyInfo chứa {kid.tag}")
    data = [k for k in kids if k.tag == q("X509Data")]
    for block in data:
        for kid in _children(block):
            if kid.tag not in _X509_CHILDREN:
                raise _malformed(signature, f"X509Data holds {kid.tag}",
                                 f"X509Data chứa {kid.tag}")
    texts = [c for block in data for c in block if c.tag == q("X509Certificate")]
    if not texts:
        found = ", ".join(etree.QName(k).localname for k in kids) or "nothing"
        raise refuse("certificate_missing", f"KeyInfo holds {found}",
                     f"KeyInfo chứa {found}", path=element_path(signature))
    certs: list[x509.Certificate] = []
    for text in texts:
        try:
            der = base64.b64decode("".join((text.text or "").split()), validate=True)
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError) as exc:
            raise refuse("certificate_malformed", str(exc), str(exc),
                         path=element_path(text)) from exc
    names = [(c.subject, c.issuer) for c in certs]
    leaves = [c for c, (subject, _) in zip(certs, names, strict=True)
              if not any(o is not c and issuer == subject and o_subject != subject
                         for o, (o_subject, issuer) in zip(certs, names, strict=True))]
    if len(leaves) != 1:
        raise _malformed(signature, f"X509Data holds {len(leaves)} end-entity certificates "
                         "(one signer expected)",
                         f"X509Data chứa {len(leaves)} chứng thư người ký (cần một)")
    return leaves[0], tuple(c for c in certs if c is not leaves[0])


def _key_fits(cert: x509.Certificate, algorithm: Algorithm) -> None:
    key = cert.public_key()
    fits = isinstance(key, ec.EllipticCurvePublicKey) if algorithm.family == "ecdsa" \
        else isinstance(key, rsa.RSAPublicKey)
    if not fits:
        raise refuse("signature_invalid",
                     f"{algorithm.name} does not fit the certificate's "
                     f"{type(key).__name__.removesuffix('PublicKey').removeprefix('_')} key",
                     f"{algorithm.name} không khớp loại khóa của chứng thư")


def check_text_whole(root: etree._Element, signatures: tuple[etree._Element, ...]) -> None:
    """Raises SignatureRefused (signature_text_split) when a comment or processing
    instruction sits inside text of the signed package."""
    # the elements themselves, not their id(): lxml makes proxies on demand, and the id
    # of one already released may be reused
    inside = {e for s in signatures for e in s.iter()}
    for node in _comments_and_pis(root):
        parent = node.getparent()
        if parent is None or parent in inside:
            continue
        texts = [parent.text, *(c.tail for c in parent)]
        if any(t and t.strip() for t in texts):
            raise refuse("signature_text_split", f"in {element_path(parent)}",
                         f"tại {element_path(parent)}", path=element_path(parent))


def _comments_and_pis(root: etree._Element) -> Iterator[etree._Element]:
    yield from root.iter(etree.Comment, etree.ProcessingInstruction)


def verify_value(root: etree._Element, checked: Checked) -> None:
    """Digests and signature value, by xmlsec, with the (already validated) leaf's key.

    Raises SignatureRefused: signature_digest_mismatch when the package changed after
    signing, signature_invalid when the value does not verify with that key.
    """
    ctx = xmlsec.SignatureContext()
    ctx.key = _key(checked.leaf.public_bytes(serialization.Encoding.DER))
    for holder in checked.id_holders:
        xmlsec.tree.add_ids(holder, list(_ID_ATTRIBUTES))
    try:
        ctx.verify(checked.element)
    except xmlsec.Error as exc:
        if package_digest(root, checked) != checked.digest_value:
            raise refuse("signature_digest_mismatch",
                         f"{checked.digest} of the package differs from the signed one",
                         f"giá trị {checked.digest} của gói tin khác giá trị đã ký") from exc
        raise refuse("signature_invalid",
                     f"the {checked.algorithm.name} value does not verify with the key of "
                     f"{checked.leaf.subject.rfc4514_string()}",
                     f"giá trị {checked.algorithm.name} không khớp khóa của "
                     f"{checked.leaf.subject.rfc4514_string()}") from exc


@lru_cache(maxsize=256)
def _key(der: bytes) -> xmlsec.Key:
    """The xmlsec key of a certificate (each context takes its own copy of it)."""
    return xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)


def package_digest(root: etree._Element, checked: Checked) -> bytes:
    """The whole-package digest computed here (to tell a changed package from a bad
    signature value after xmlsec refused)."""
    exclusive = bool(checked.reference_c14n and "exc-c14n" in checked.reference_c14n)
    with set_aside([checked.element]):
        data = etree.tostring(root.getroottree(), method="c14n", exclusive=exclusive,
                              with_comments=False)
    return hashlib.new(checked.digest, data).digest()


@contextmanager
def set_aside(elements: Sequence[etree._Element]) -> Iterator[None]:
    """Take `elements` out of the tree as the enveloped-signature transform does (their
    tail text stays in the document), and put everything back as it was afterwards."""
    saved = []
    for element in elements:
        parent = element.getparent()
        if parent is None:
            continue
        index = parent.index(element)
        previous = element.getprevious()
        before = previous.tail if previous is not None else parent.text
        tail = element.tail
        parent.remove(element)  # lxml takes the tail along: give it back to the document
        element.tail = tail
        if tail:
            if previous is not None:
                previous.tail = (before or "") + tail
            else:
                parent.text = (before or "") + tail
        saved.append((parent, index, previous, before, element))
    try:
        yield
    finally:
        for parent, index, previous, before, element in reversed(saved):
            if previous is not None:
                previous.tail = before
            else:
                parent.text = before
            parent.insert(index, element)
