"""A test PKI built with `cryptography`: a root, an intermediate, leaves good and bad, CRLs.

Keys are generated once per test session (`test_pki()`); `write()` puts the anchors and
CRLs into a folder the way an operator would configure them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
# the organisation the leaves speak for (a corpus sender), and a second one
SENDER = "002.00.20.H13"
OTHER_ORG = "000.00.00.H41"


def new_key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(kind)


def name(cn: str, org: str = "Ban Cơ yếu Chính phủ (test)", ou: str | None = None,
         uid: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if uid:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, uid))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Issued:
    """A certificate with its key and the chain above it (leaf first, anchor excluded)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def certs(self) -> list[x509.Certificate]:
        return [self.cert, *self.chain]


def _ca(subject: x509.Name, key: PrivateKey, issuer: Issued | None,
        path_length: int | None) -> Issued:
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 365 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    return Issued(key, cert, ([issuer.cert, *issuer.chain] if issuer else []))


def issue_leaf(issuer: Issued, *, cn: str, key: PrivateKey, org_id: str = SENDER,
               not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
               digital_signature: bool = True, non_repudiation: bool = True,
               serial: int | None = None, self_signed: bool = False) -> Issued:
    """A signing certificate naming `org_id` in its subject (UID) and a URI SAN."""
    subject = name(cn, org="Văn phòng Chính phủ (test)", ou=org_id, uid=org_id)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=digital_signature, content_commitment=non_repudiation,
            key_encipherment=not (digital_signature or non_repudiation),
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(f"urn:vn:organ:{org_id}")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    cert = builder.sign(key if self_signed else issuer.key, hashes.SHA256())
    return Issued(key, cert, [] if self_signed else [issuer.cert, *issuer.chain[:-1]])


def crl(issuer: Issued, revoked: list[x509.Certificate],
        next_update: dt.datetime | None = None) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - DAY)
        .next_update(next_update or NOW + 30 * DAY)
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(NOW - DAY)
            .build())
    return builder.sign(issuer.key, hashes.SHA256())


@dataclass
class Pki:
    root: Issued
    intermediate: Issued
    foreign_root: Issued
    leaves: dict[str, Issued]

    def leaf(self, label: str) -> Issued:
        return self.leaves[label]

    def signer(self, org_id: str, kind: str = "rsa") -> Issued:
        """A good signing certificate of organisation `org_id` (RSA-2048 or EC P-256)."""
        label = f"{kind}:{org_id}"
        if label not in self.leaves:
            key = self.leaves["ec" if kind == "ec" else "rsa"].key
            self.leaves[label] = issue_leaf(self.intermediate, cn=f"Văn thư {org_id}",
                                            key=key, org_id=org_id)
        return self.leaves[label]

    def crl_intermediate(self) -> x509.CertificateRevocationList:
        return crl(self.intermediate, [self.leaves["revoked"].cert])

    def crl_root(self) -> x509.CertificateRevocationList:
        return crl(self.root, [])

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Anchors (a folder with the root) and CRLs (a folder): as an operator lays them out."""
        anchors = folder / "anchors"
        crls = folder / "crls"
        anchors.mkdir(parents=True, exist_ok=True)
        crls.mkdir(parents=True, exist_ok=True)
        (anchors / "root.pem").write_bytes(pem(self.root.cert))
        (crls / "intermediate.crl").write_bytes(
            self.crl_intermediate().public_bytes(serialization.Encoding.DER))
        (crls / "root.crl.pem").write_bytes(
            self.crl_root().public_bytes(serialization.Encoding.PEM))
        return anchors, crls


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@cache
def shared_pki() -> Pki:
    """One PKI for the session: its keys take a moment to generate."""
    root = _ca(name("Lienthong Test Root CA"), new_key("rsa"), None, path_length=1)
    intermediate = _ca(name("Lienthong Test Signing CA"), new_key("rsa"), root, path_length=0)
    foreign_root = _ca(name("Foreign Root CA", org="Elsewhere"), new_key("rsa"), None,
                       path_length=1)
    rsa_key = new_key("rsa")
    ec_key = new_key("ec")
    leaves = {
        "rsa": issue_leaf(intermediate, cn="Văn thư VPCP (RSA)", key=rsa_key),
        "ec": issue_leaf(intermediate, cn="Văn thư VPCP (EC)", key=ec_key),
        "expired": issue_leaf(intermediate, cn="Expired", key=rsa_key,
                              not_before=NOW - 400 * DAY, not_after=NOW - DAY),
        "not-yet-valid": issue_leaf(intermediate, cn="Not yet valid", key=rsa_key,
                                    not_before=NOW + 10 * DAY, not_after=NOW + 400 * DAY),
        "revoked": issue_leaf(intermediate, cn="Revoked", key=rsa_key),
        "key-encipherment": issue_leaf(intermediate, cn="Encryption only", key=rsa_key,
                                       digital_signature=False, non_repudiation=False),
        "other-org": issue_leaf(intermediate, cn="Nghệ An", key=rsa_key, org_id=OTHER_ORG),
        "self-signed": issue_leaf(intermediate, cn="Self-signed", key=rsa_key,
                                  self_signed=True),
        "rsa1024": issue_leaf(intermediate, cn="Weak key", key=new_key("rsa1024")),
    }
    leaves["foreign"] = issue_leaf(foreign_root, cn="Foreign signer", key=rsa_key)
    return Pki(root, intermediate, foreign_root, leaves)
