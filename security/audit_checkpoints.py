"""Signed checkpoints of the audit chain: the hub's Ed25519 key, signing the head, the copies
kept outside the database (a JSON-lines file, syslog), and checking the chain against them.

A checkpoint is the chain head (seq, hash) at a time, signed by the hub. Its signature covers
`SIGNED_PREFIX` followed by the canonical JSON of {"at", "hash", "key_id", "seq"} (UTF-8).
Whoever can write the database cannot sign, and cannot reach the copies outside it, so
rewriting the chain, or cutting off its tail together with the head row, no longer passes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import logging.handlers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from core.errors import HubError
from core.tables import table_of
from security.audit import (
    GENESIS,
    Break,
    ChainReport,
    Checkpoint,
    Head,
    Record,
    canonical,
    iter_records,
    link_hash,
    verify,
    verify_records,
)
from security.audit_tables import AuditCheckpoint

log = logging.getLogger(__name__)
SIGNED_PREFIX = b"lienthong audit checkpoint v1\n"
SYSLOG_TAG = "lienthong-audit-checkpoint"
# one checkpoint writer at a time across PostgreSQL sessions ("ltck")
ADVISORY_LOCK = 0x6C74636B


class AuditKeyError(HubError):
    """The signing key or a public key cannot be read or made."""

    code = "audit_key_invalid"


def key_id_of(public: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def signed_bytes(seq: int, digest: str, at: str, key_id: str) -> bytes:
    """Exactly what a checkpoint's signature covers."""
    return SIGNED_PREFIX + canonical(
        {"at": at, "hash": digest, "key_id": key_id, "seq": seq}).encode("utf-8")


@dataclass(frozen=True)
class SigningKey:
    """The hub's own Ed25519 key, which signs checkpoints."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Raises AuditKeyError when the file is missing or holds no Ed25519 private key."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError as exc:
            raise AuditKeyError(f"no audit signing key at {path}",
                                code="audit_key_missing") from exc
        except (OSError, ValueError, TypeError) as exc:
            raise AuditKeyError(f"{path} is not a readable PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(f"{path} is not an Ed25519 key")
        return cls(key)

    @classmethod
    def create(cls, path: Path) -> SigningKey:
        """Write a new key, readable by its owner only. Raises FileExistsError when there is
        one already (several processes may start at once: one of them makes it)."""
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[SigningKey, bool]:
        """The key at `path`, made first if there is none; True when it was just made.

        Raises AuditKeyError when the file exists but is not an Ed25519 private key.
        """
        if not path.exists():
            try:
                return cls.create(path), True
            except FileExistsError:
                pass
        return cls.load(path), False

    def sign(self, seq: int, digest: str, at: str | None = None) -> Checkpoint:
        at = at or dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        signature = self.private.sign(signed_bytes(seq, digest, at, self.key_id))
        return Checkpoint(seq=seq, hash=digest, at=at, key_id=self.key_id,
                          signature=base64.b64encode(signature).decode("ascii"))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (a public key, or a private key whose public half is
    taken). Raises AuditKeyError when the file cannot be read as an Ed25519 key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"cannot read {path}: {exc}") from exc
    try:
        key: object = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise AuditKeyError(f"{path} holds no PEM Ed25519 key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{path} is not an Ed25519 key")
    return key


def keyring(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id. Raises AuditKeyError for a file that is not an Ed25519 key."""
    keys = {}
    for path in paths:
        key = load_public_key(path)
        keys[key_id_of(key)] = key
    return keys


def signature_problem(cp: Checkpoint, keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why a checkpoint's signature is not to be trusted, or None when it is."""
    key = keys.get(cp.key_id)
    if key is None:
        return f"it is signed by key {cp.key_id}, which is not a trusted key"
    try:
        key.verify(base64.b64decode(cp.signature, validate=True),
                   signed_bytes(cp.seq, cp.hash, cp.at, cp.key_id))
    except (InvalidSignature, ValueError):
        return f"its signature does not verify with key {cp.key_id}"
    return None


def from_mapping(item: Mapping[str, object], source: str) -> Checkpoint:
    """Raises KeyError, TypeError or ValueError when the item is not a checkpoint."""
    seq = item["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("seq is not an integer")
    return Checkpoint(seq=seq, hash=str(item["hash"]), at=str(item["at"]),
                      key_id=str(item["key_id"]), signature=str(item["signature"]),
                      source=source)


def read_file(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in a JSON-lines file, and a note for each line that is not one.

    Syslog lines are accepted too: anything before the JSON object is skipped. Raises
    OSError when the file cannot be read.
    """
    found, problems = [], []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            start = line.find("{")
            if start < 0:
                if line.strip():
                    problems.append(f"{path}:{number}: not a checkpoint")
                continue
            try:
                found.append(from_mapping(json.loads(line[start:]), f"{path}:{number}"))
            except (KeyError, TypeError, ValueError):
                problems.append(f"{path}:{number}: not a checkpoint")
    return found, problems


def stored(session: Session) -> list[Checkpoint]:
    table = table_of(AuditCheckpoint)
    return [Checkpoint(seq=r.seq, hash=r.hash, at=r.at, key_id=r.key_id,
                       signature=r.signature, source="database")
            for r in session.execute(select(table).order_by(table.c.seq))]


def latest_trusted(session: Session, keys: Mapping[str, Ed25519PublicKey],
                   look_back: int = 100) -> Checkpoint | None:
    """The newest stored checkpoint whose signature holds (a forged row is skipped)."""
    table = table_of(AuditCheckpoint)
    rows = session.execute(select(table).order_by(table.c.seq.desc()).limit(look_back)).all()
    for r in rows:
        cp = Checkpoint(seq=r.seq, hash=r.hash, at=r.at, key_id=r.key_id,
                        signature=r.signature)
        problem = signature_problem(cp, keys)
        if problem is None:
            return cp
        log.error("audit checkpoint %d in the database is not trusted: %s", r.seq, problem)
    return None


# -- writing ---------------------------------------------------------------------------------

class Sinks:
    """Where checkpoints go besides the database: an append-only file, syslog."""

    def __init__(self, file: Path | None = None, syslog_address: str | None = None,
                 syslog_facility: str = "local0") -> None:
        self.file = file
        self._syslog: logging.handlers.SysLogHandler | None = None
        if syslog_address:
            address: str | tuple[str, int] = syslog_address
            host, sep, port = syslog_address.rpartition(":")
            if sep and port.isdigit() and not syslog_address.startswith("/"):
                address = (host, int(port))
            handler = logging.handlers.SysLogHandler(
                address=address,
                facility=logging.handlers.SysLogHandler.facility_names[syslog_facility])
            handler.ident = f"{SYSLOG_TAG}: "
            self._syslog = handler

    def write(self, cp: Checkpoint) -> None:
        """Append the checkpoint as one line to each sink. Raises OSError when the file
        cannot be written (syslog failures are reported by the logging module)."""
        line = json.dumps(cp.as_dict(), sort_keys=True, separators=(",", ":"))
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND and one write per line: processes sharing the file never interleave
            fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._syslog is not None:
            self._syslog.emit(logging.makeLogRecord(
                {"msg": line, "levelno": logging.INFO, "levelname": "INFO"}))

    def close(self) -> None:
        if self._syslog is not None:
            self._syslog.close()


def due(head: Head | None, last: Checkpoint | None, every_events: int, every_s: float,
        now: dt.datetime) -> bool:
    """Whether the head should be signed: enough events, or enough time with new ones."""
    if head is None or head.seq == 0:
        return False
    if last is None:
        return True
    if head.seq <= last.seq:
        return False
    if head.seq - last.seq >= every_events:
        return True
    try:
        signed_at = dt.datetime.fromisoformat(last.at)
    except ValueError:
        return True
    return (now - signed_at).total_seconds() >= every_s


def segment_problem(session: Session, start: Checkpoint | None, end: Head) -> str | None:
    """Why the events after `start` up to `end` do not form an intact chain, or None.

    The hub signs only a chain it has checked since its previous checkpoint.
    """
    seq, prev = (start.seq, start.hash) if start is not None else (0, GENESIS)
    for r in iter_records(session, after=seq, until=end.seq):
        if r.seq != seq + 1:
            return f"event {seq + 1} is missing"
        if r.prev_hash != prev:
            return f"event {r.seq} does not link to event {seq}"
        if link_hash(r.prev_hash, r.body()) != r.hash:
            return f"event {r.seq} does not match its hash"
        seq, prev = r.seq, r.hash
    if seq != end.seq or prev != end.hash:
        return f"the chain does not end at the head (event {end.seq})"
    return None


def lock_writer(session: Session) -> bool:
    """Become the one checkpoint writer until the transaction ends; False if another
    process is writing one now. SQLite transactions here take the write lock up front."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                {"k": ADVISORY_LOCK}).scalar())


def record(session: Session, cp: Checkpoint) -> None:
    """Store a checkpoint row in the caller's transaction."""
    session.execute(insert(table_of(AuditCheckpoint)).values(
        seq=cp.seq, hash=cp.hash, at=cp.at, key_id=cp.key_id, signature=cp.signature))


# -- checking --------------------------------------------------------------------------------

@dataclass
class Screened:
    """Checkpoints from every source, sorted into trusted ones and breaks."""

    trusted: list[Checkpoint] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def screen(checkpoints: Sequence[Checkpoint], keys: Mapping[str, Ed25519PublicKey],
           files_given: bool) -> Screened:
    """Keep the validly signed checkpoints; a bad signature is a break, wherever it is."""
    out = Screened()
    seen: set[tuple[int, str, str, str]] = set()
    for cp in checkpoints:
        ident = (cp.seq, cp.hash, cp.at, cp.signature)
        if ident in seen:
            continue
        seen.add(ident)
        problem = signature_problem(cp, keys)
        if problem is None:
            out.trusted.append(cp)
        else:
            out.breaks.append(Break(cp.seq, "checkpoint",
                                    f"the checkpoint of event {cp.seq} signed at {cp.at} "
                                    f"({cp.source}) is not valid: {problem}"))
    in_db = {(cp.seq, cp.hash) for cp in checkpoints if cp.source == "database"}
    in_files = {(cp.seq, cp.hash) for cp in checkpoints if cp.source != "database"}
    if files_given:
        only_files = sorted(in_files - in_db)
        only_db = sorted(in_db - in_files)
        if only_files:
            out.notes.append(f"{len(only_files)} checkpoint(s) in the checkpoint files are not "
                             f"in the database (first: event {only_files[0][0]})")
        if only_db:
            out.notes.append(f"{len(only_db)} checkpoint(s) in the database are in no "
                             f"checkpoint file given (first: event {only_db[0][0]})")
    return out


def _merge(report: ChainReport, screened: Screened, notes: Iterable[str]) -> ChainReport:
    breaks = sorted(report.breaks + screened.breaks, key=lambda b: (b.seq, b.kind))
    return replace(report, breaks=breaks, notes=[*notes, *screened.notes, *report.notes])


def _from_files(files: Sequence[Path]) -> tuple[list[Checkpoint], list[str]]:
    found: list[Checkpoint] = []
    notes: list[str] = []
    for path in files:
        cps, problems = read_file(path)
        found += cps
        notes += problems
    return found, notes


def verify_trail(session: Session, keys: Mapping[str, Ed25519PublicKey],
                 files: Sequence[Path] = (), notes: Sequence[str] = ()) -> ChainReport:
    """The stored chain, its head, and every checkpoint (the table's and the files'):
    signatures valid with `keys`, each matching the chain, the chain reaching the newest.

    Raises OSError when a checkpoint file cannot be read, sqlalchemy errors when the
    database cannot.
    """
    from_files, file_notes = _from_files(files)
    screened = screen(stored(session) + from_files, keys, files_given=bool(files))
    if not keys:
        screened.notes.append("no public key was given or configured: checkpoints "
                              "cannot be trusted")
    report = verify(session, screened.trusted)
    return _merge(report, screened, [*notes, *file_notes])


def verify_export(records: Iterable[Record], keys: Mapping[str, Ed25519PublicKey],
                  files: Sequence[Path] = (), notes: Sequence[str] = ()) -> ChainReport:
    """An exported chain (no database): links, hashes and the checkpoint files.

    Raises OSError when a checkpoint file cannot be read.
    """
    from_files, file_notes = _from_files(files)
    screened = screen(from_files, keys, files_given=False)
    report = verify_records(records, screened.trusted, head_known=False)
    return _merge(report, screened, [*notes, *file_notes])
