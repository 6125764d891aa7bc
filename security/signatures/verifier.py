"""The one entry point: a package's bytes and a policy in, a verdict out (or a refusal).

Used by the ingest pipeline (hub/ingest/verify.py) for REST and SOAP alike and by
`lienthong validate`. The bytes verified are the bytes the hub stores and routes on: the
verifier parses them itself, with the hardened parser, and never changes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from lxml import etree

from core.errors import FieldError, PayloadTooLarge
from core.model import Form
from core.settings import Limits, Signatures
from routing.directory import SignatureRules
from schemas.edxml_spec import KNOWN_PREFIXES
from schemas.problems import CodedFieldError
from schemas.xmlparser import ParsedXml, parse_xml_document
from security.signatures import jws, xmldsig
from security.signatures.pki import TrustStore, ValidChain
from security.signatures.policy import Mode, Policy
from security.signatures.refusals import refuse
from security.signatures.verdict import Signer, Verdict

_ELIDE = frozenset({"ContentTransferEncoded"})
_DS_BYTES = xmldsig.DS.encode()


class SignatureVerifier:
    """Holds the trust store; `verify` decides on one package."""

    def __init__(self, settings: Signatures, limits: Limits,
                 trust: TrustStore | None = None) -> None:
        self.default: Mode = settings.default_policy
        self.limits = limits
        self.trust = trust or TrustStore.from_paths(
            settings.trust_anchors, settings.crls, settings.require_crl,
            settings.crl_check_interval_s)
        # a libxml2 shared wrongly between lxml and xmlsec must stop start-up, not a request
        xmldsig.check_libxml2()

    def policy_for(self, rules: SignatureRules | None, mode: Mode | None = None) -> Policy:
        """The system's policy; `mode` (the CLI's --signatures) overrides its mode."""
        policy = Policy.for_system(rules, self.default)
        return Policy.of(mode, rules) if mode is not None else policy

    def verify(self, raw: bytes, form: Form, policy: Policy, sender_ids: Iterable[str],
               at: dt.datetime | None = None) -> Verdict:
        """Check `raw` under `policy`; `sender_ids` are the sending organisation's codes.

        Raises SignatureRefused (or its subclass SignerNotSender) with a precise code.
        """
        if policy.mode == "off":
            return Verdict("not_checked", policy.mode,
                           note="signature checks are off for this system; any signature "
                                "block is carried unverified")
        at = at or dt.datetime.now(dt.UTC)
        ids = tuple(sender_ids)
        if form is Form.EDXML:
            return self._edxml(raw, policy, ids, at)
        return self._json(raw, policy, ids, at)

    # -- edXML ---------------------------------------------------------------------------
    def _parse(self, raw: bytes, elide: frozenset[str]) -> ParsedXml:
        return parse_xml_document(
            raw, max_depth=self.limits.max_xml_depth,
            max_attributes=self.limits.max_xml_attributes,
            max_bytes=self.limits.max_body_bytes, known_prefixes=KNOWN_PREFIXES, elide=elide)

    def _survey(self, raw: bytes) -> tuple[ParsedXml, xmldsig.Survey]:
        # the XML-DSig namespace written out: most likely signed, so the whole tree is read
        # at once; otherwise large text is kept out until a signature turns up after all
        if _DS_BYTES in raw:
            try:
                parsed = self._parse(raw, frozenset())
                return parsed, xmldsig.survey(parsed.root)
            except PayloadTooLarge as exc:
                if exc.code != "xml_text_too_large":
                    raise
        parsed = self._parse(raw, _ELIDE)
        return parsed, xmldsig.survey(parsed.root)

    def _edxml(self, raw: bytes, policy: Policy, sender_ids: tuple[str, ...],
               at: dt.datetime) -> Verdict:
        # a tag name cannot be written with character references: no "Signature" in the
        # bytes means no signature element in the document
        if b"Signature" not in raw:
            return self._unsigned(policy, ())
        parsed, found = self._survey(raw)
        if not found.signatures:
            return self._unsigned(policy, found.placeholders, found.placeholder_lines)
        all_ds = list(parsed.root.iter(xmldsig.q("Signature")))
        if len(all_ds) > 1 and not policy.co_signatures:
            raise refuse("signature_multiple", f"{len(all_ds)} ds:Signature elements",
                         f"{len(all_ds)} phần tử ds:Signature")
        for quirk in parsed.quirks:
            code = getattr(quirk, "code", "")
            if code == "xml_junk_before_declaration":
                raise refuse("signature_not_whole_package",
                             "characters before the XML declaration are outside the signature",
                             "có ký tự trước khai báo XML, nằm ngoài phạm vi chữ ký")
            raise refuse("signature_malformed", f"a signed package must be namespace-"
                         f"well-formed: {quirk.message}", f"gói tin đã ký phải khai báo đủ "
                         f"không gian tên: {quirk.message_vi}")
        if parsed.elided:
            try:
                parsed = self._parse(raw, frozenset())
            except PayloadTooLarge as exc:
                raise refuse("signature_package_too_large") from exc
            found = xmldsig.survey(parsed.root)
        root = parsed.root
        signatures = found.signatures
        xmldsig.check_text_whole(root, signatures)
        checked = [xmldsig.check_profile(root, s, policy) for s in signatures]
        chains = [self.trust.validate(c.leaf, c.intermediates, at) for c in checked]
        # the first signature is the sender's; co-signers need only a trusted chain
        policy.check_signer(chains[0].leaf, sender_ids)
        for index, item in enumerate(checked):
            self._verify_in_order(root, checked, index, item)
        first = checked[0]
        return Verdict(
            "verified", policy.mode, format="xmldsig",
            signers=tuple(Signer.of(c.leaf) for c in chains),
            algorithm=first.algorithm.name, digest=first.digest,
            canonicalization=first.canonicalization, signing_time=first.signing_time,
            revocation=_revocation(chains), covers=first.covers,
            warnings=tuple(self._placeholder_warnings(found.placeholders,
                                                                   found.placeholder_lines)))

    @staticmethod
    def _verify_in_order(root: etree._Element, checked: list[xmldsig.Checked], index: int,
                         item: xmldsig.Checked) -> None:
        """Co-signatures are serial: each signer signed the package as it was, with the
        signatures before it; the ones added later are set aside while it is checked."""
        with xmldsig.set_aside([c.element for c in checked[index + 1:]]):
            xmldsig.verify_value(root, item)

    # -- JSON ----------------------------------------------------------------------------
    def _json(self, raw: bytes, policy: Policy, sender_ids: tuple[str, ...],
              at: dt.datetime) -> Verdict:
        # a member name can be written with \u escapes, so only bytes holding neither the
        # name nor an escape are skipped unparsed
        if b'"jws"' not in raw and b"\\u" not in raw:
            return self._unsigned(policy, self._xml_block_note(raw))
        package, duplicates = jws.loads_strict(raw)
        if not isinstance(package, dict) or jws.MEMBER not in package:
            return self._unsigned(policy, self._xml_block_note(raw))
        jws.refuse_duplicates(duplicates, "the package")
        signatures = jws.signatures_of(package[jws.MEMBER])
        if len(signatures) > 1 and not policy.co_signatures:
            raise refuse("signature_multiple", f"{len(signatures)} JWS signatures",
                         f"{len(signatures)} chữ ký JWS", path=f"/{jws.MEMBER}")
        parsed = [jws.parse_signature(p, s, policy) for p, s in signatures]
        chains = [self.trust.validate(p.leaf, p.intermediates, at) for p in parsed]
        policy.check_signer(chains[0].leaf, sender_ids)
        payload = jws.signed_payload(package)
        for item in parsed:
            jws.verify_value(item, payload)
        first = parsed[0]
        return Verdict(
            "verified", policy.mode, format="jws",
            signers=tuple(Signer.of(c.leaf) for c in chains),
            algorithm=first.algorithm.name, digest=first.algorithm.hash,
            canonicalization="RFC 8785", signing_time=first.signing_time,
            revocation=_revocation(chains),
            covers=("the whole JSON package but its jws member (detached payload)",))

    @staticmethod
    def _xml_block_note(raw: bytes) -> tuple[str, ...]:
        if b'"signature"' in raw:
            return ("/signature: an XML signature block carried as data (it signed an edXML "
                    "form; only a JWS signs the JSON form)",)
        return ()

    # -- no signature --------------------------------------------------------------------
    def _unsigned(self, policy: Policy, placeholders: tuple[str, ...],
                  lines: tuple[int | None, ...] = ()) -> Verdict:
        if policy.mode == "required":
            why = ("only placeholder blocks: " + "; ".join(placeholders)) if placeholders \
                else "no signature element"
            raise refuse("signature_missing", why, why)
        return Verdict("unsigned", policy.mode,
                       note="; ".join(placeholders) if placeholders else "",
                       warnings=tuple(self._placeholder_warnings(placeholders, lines)))

    @staticmethod
    def _placeholder_warnings(placeholders: tuple[str, ...],
                              lines: tuple[int | None, ...] = ()) -> list[FieldError]:
        out: list[FieldError] = []
        for i, text in enumerate(placeholders):
            path, _, what = text.partition(": ")
            expected, what_vi = _PLACEHOLDERS.get(what, ("a signature", what))
            out.append(CodedFieldError(
                path, f"expected {expected}, found {what}: not verified",
                f"không kiểm tra: {what_vi}", lines[i] if i < len(lines) else None,
                "signature_placeholder"))
        return out


# what a placeholder block should have been, and what it is in Vietnamese
_PLACEHOLDERS = {
    xmldsig.EDXML_BLOCK: ("an XML signature (in the xmldsig namespace)",
                          "khối Signature thuộc không gian tên edXML, không phải chữ ký XML"),
    xmldsig.SDK_SAMPLE: ("a signature of this package",
                         "chữ ký mẫu của bộ SDK VDXP (sao chép giữa các gói tin, không ký gì)"),
}


def _revocation(chains: list[ValidChain]) -> Literal["crl", "no_crl"]:
    return "crl" if all(c.revocation == "crl" for c in chains) else "no_crl"
