"""The trust store: configured anchors, chain building, validity, key usage, key size, CRLs.

Anchors are only ever the configured ones (files, or folders read whole): never the
operating system's or a library's bundle of web roots. The chain is built and checked by
`cryptography.x509.verification` (RFC 5280 path validation, CA certificates to the Web PKI
profile); the end-entity checks that give precise refusal codes (dates, key usage, key
size) run first, and revocation is checked against the configured CRLs, which are
re-read when their files change.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import verification

from core.errors import HubError
from security.signatures.refusals import refuse

log = logging.getLogger(__name__)

CERT_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
CRL_SUFFIXES = frozenset({".crl", ".pem", ".der"})
MIN_RSA_BITS = 2048
_CHAIN_CACHE = 1024
_CHAIN_TTL = dt.timedelta(minutes=10)
EC_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


class TrustStoreError(HubError):
    """The configured anchors or CRLs cannot be read: the hub refuses to start."""

    code = "signatures_misconfigured"
    title = "Signature trust store is misconfigured"


@dataclass(frozen=True)
class ValidChain:
    """A checked chain: the signer's certificate first, the anchor last."""

    certificates: tuple[x509.Certificate, ...]
    revocation: Literal["crl", "no_crl"]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]


def _files(paths: Iterable[Path], suffixes: frozenset[str]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir()
                              if p.is_file() and p.suffix.lower() in suffixes))
        elif path.is_file():
            out.append(path)
        else:
            raise TrustStoreError(f"signature trust path {path} does not exist")
    return out


def load_certificates(data: bytes, source: str = "") -> list[x509.Certificate]:
    """Every certificate in PEM (one or more) or DER bytes.

    Raises TrustStoreError when none can be read.
    """
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise TrustStoreError(f"cannot read certificates from {source}: {exc}") from exc


def _load_crls(data: bytes, source: str) -> list[x509.CertificateRevocationList]:
    try:
        if b"-----BEGIN" in data:
            blocks = data.split(b"-----END X509 CRL-----")
            return [x509.load_pem_x509_crl(block + b"-----END X509 CRL-----")
                    for block in blocks if b"-----BEGIN X509 CRL-----" in block]
        return [x509.load_der_x509_crl(data)]
    except ValueError as exc:
        raise TrustStoreError(f"cannot read a CRL from {source}: {exc}") from exc


class CrlCache:
    """The configured CRLs, re-read when a file's modification time or size changes."""

    def __init__(self, paths: Sequence[Path], check_interval_s: float = 5.0) -> None:
        self.paths = tuple(paths)
        self.check_interval_s = check_interval_s
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[int, int]] = {}
        self._by_file: dict[Path, list[x509.CertificateRevocationList]] = {}
        # issuer certificate (DER) -> its CRLs, found once per load: matching names and
        # checking CRL signatures on every message would cost more than the rest
        self._matched: dict[bytes, list[x509.CertificateRevocationList]] = {}
        self._checked = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Re-read changed files (at most every `check_interval_s` unless forced).

        Raises TrustStoreError on a first load that fails; later, a file that became
        unreadable keeps its last good CRLs and is logged.
        """
        now = time.monotonic()
        if not force and now - self._checked < self.check_interval_s:
            return
        with self._lock:
            if not force and now - self._checked < self.check_interval_s:
                return
            self._checked = now
            present = set()
            changed = False
            for path in _files(self.paths, CRL_SUFFIXES) if self.paths else []:
                present.add(path)
                stat = path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                if self._seen.get(path) == stamp:
                    continue
                try:
                    self._by_file[path] = _load_crls(path.read_bytes(), str(path))
                except (OSError, TrustStoreError) as exc:
                    if force:
                        raise TrustStoreError(str(exc)) from exc
                    log.error("keeping the previous CRLs of %s: %s", path, exc)
                    continue
                self._seen[path] = stamp
                changed = True
                log.info("loaded %d CRL(s) from %s", len(self._by_file[path]), path)
            for gone in set(self._by_file) - present:
                del self._by_file[gone]
                self._seen.pop(gone, None)
                changed = True
            if changed:
                self._matched = {}

    def for_issuer(self, issuer: x509.Certificate) -> list[x509.CertificateRevocationList]:
        """The CRLs issued (and signed) by `issuer`."""
        self.refresh()
        key = issuer.public_bytes(serialization.Encoding.DER)
        matched = self._matched
        found = matched.get(key)
        if found is None:
            subject = issuer.subject
            found = [crl for crls in list(self._by_file.values()) for crl in crls
                     if crl.issuer == subject and _crl_signed_by(crl, issuer)]
            matched[key] = found
        return found


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
                      | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return False
    return crl.is_signature_valid(key)


class TrustStore:
    """Anchors and CRLs from the settings; `validate` checks one signer's chain."""

    def __init__(self, anchors: Sequence[x509.Certificate], crls: CrlCache | None = None,
                 require_crl: bool = False) -> None:
        self.anchors = tuple(anchors)
        self.crls = crls or CrlCache(())
        self.require_crl = require_crl
        self._store = verification.Store(list(self.anchors)) if self.anchors else None
        # chains already built: (leaf + intermediates, DER) -> (chain, valid until); the
        # anchors do not change while the hub runs, and revocation is checked every time
        self._chains: dict[tuple[bytes, ...], tuple[tuple[x509.Certificate, ...],
                                                     dt.datetime, dt.datetime]] = {}

    @classmethod
    def from_paths(cls, anchors: Sequence[Path], crls: Sequence[Path] = (),
                   require_crl: bool = False, crl_check_interval_s: float = 5.0) -> TrustStore:
        """Raises TrustStoreError when a path is missing or holds no certificate/CRL."""
        certs: list[x509.Certificate] = []
        for path in _files(anchors, CERT_SUFFIXES):
            certs.extend(load_certificates(path.read_bytes(), str(path)))
        return cls(certs, CrlCache(crls, crl_check_interval_s), require_crl)

    def validate(self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                 at: dt.datetime) -> ValidChain:
        """Check the signer's certificate at time `at`.

        Raises SignatureRefused: certificate_expired, certificate_not_yet_valid,
        certificate_key_usage, certificate_key_weak, certificate_untrusted,
        certificate_revoked, certificate_revocation_unknown.
        """
        check_end_entity(leaf, at)
        if self._store is None:
            raise refuse("certificate_untrusted", "no trust anchors are configured",
                         "chưa cấu hình tổ chức chứng thực tin cậy")
        key = tuple(c.public_bytes(serialization.Encoding.DER)
                    for c in (leaf, *intermediates))
        cached = self._chains.get(key)
        if cached is not None and cached[1] <= at <= cached[2]:
            return ValidChain(cached[0], self._check_revocation(cached[0], at))
        builder = (
            verification.PolicyBuilder()
            .store(self._store)
            .time(at)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                # the signer's certificate is not a TLS certificate: its extensions were
                # checked above (key usage), the Web PKI end-entity rules do not apply
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
        )
        try:
            built = builder.build_client_verifier().verify(leaf, list(intermediates))
        except verification.VerificationError as exc:
            raise refuse("certificate_untrusted", f"issuer {leaf.issuer.rfc4514_string()}; "
                         f"{_reason(exc)}") from exc
        chain = tuple(built.chain)
        revocation = self._check_revocation(chain, at)
        if len(self._chains) >= _CHAIN_CACHE:
            self._chains.clear()
        self._chains[key] = (chain, max(c.not_valid_before_utc for c in chain),
                             min(min(c.not_valid_after_utc for c in chain), at + _CHAIN_TTL))
        return ValidChain(chain, revocation)

    def _check_revocation(self, chain: Sequence[x509.Certificate],
                          at: dt.datetime) -> Literal["crl", "no_crl"]:
        covered = True
        for cert, issuer in zip(chain, chain[1:], strict=False):
            crls = [c for c in self.crls.for_issuer(issuer)
                    if c.next_update_utc is None or c.next_update_utc >= at]
            if not crls:
                covered = False
                if self.require_crl:
                    raise refuse("certificate_revocation_unknown",
                                 f"no current CRL of {issuer.subject.rfc4514_string()}",
                                 f"không có CRL còn hiệu lực của "
                                 f"{issuer.subject.rfc4514_string()}")
                continue
            for crl in crls:
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None and entry.revocation_date_utc <= at:
                    raise refuse("certificate_revoked",
                                 f"{cert.subject.rfc4514_string()}, serial "
                                 f"{cert.serial_number:x}, revoked "
                                 f"{entry.revocation_date_utc.isoformat()}",
                                 f"{cert.subject.rfc4514_string()}, số hiệu "
                                 f"{cert.serial_number:x}, thu hồi ngày "
                                 f"{entry.revocation_date_utc.date().isoformat()}")
        return "crl" if covered else "no_crl"


def _reason(exc: verification.VerificationError) -> str:
    text = str(exc).split(" (encountered processing", 1)[0]
    return text.removeprefix("validation failed: ")


def check_end_entity(cert: x509.Certificate, at: dt.datetime) -> None:
    """Dates, key usage and key size of the signer's own certificate.

    Raises SignatureRefused with certificate_expired, certificate_not_yet_valid,
    certificate_key_usage or certificate_key_weak.
    """
    subject = cert.subject.rfc4514_string()
    if at > cert.not_valid_after_utc:
        raise refuse("certificate_expired",
                     f"{subject} expired {cert.not_valid_after_utc.isoformat()}",
                     f"{subject} hết hạn ngày {cert.not_valid_after_utc.date().isoformat()}")
    if at < cert.not_valid_before_utc:
        raise refuse("certificate_not_yet_valid",
                     f"{subject} is valid from {cert.not_valid_before_utc.isoformat()}",
                     f"{subject} có hiệu lực từ {cert.not_valid_before_utc.date().isoformat()}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise refuse("certificate_key_usage",
                     f"{subject} has neither digitalSignature nor nonRepudiation",
                     f"{subject} không có digitalSignature hay nonRepudiation")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise refuse("certificate_key_usage", f"{subject} is a CA certificate",
                     f"{subject} là chứng thư của tổ chức chứng thực")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise refuse("certificate_key_weak",
                         f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} needed",
                         f"khóa RSA {key.key_size} bit; cần tối thiểu {MIN_RSA_BITS} bit")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            raise refuse("certificate_key_weak", f"curve {key.curve.name} is not accepted",
                         f"không chấp nhận đường cong {key.curve.name}")
    else:
        raise refuse("certificate_key_weak", f"a {type(key).__name__} key is not accepted",
                     f"không chấp nhận khóa {type(key).__name__}")
