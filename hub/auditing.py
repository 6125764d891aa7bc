"""The hub's side of the audit trail: events about a stored message naming what the
security team searches by, and checking the trail with the configured keys and files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from hub.store.db import Database
from hub.store.models import Message
from security import audit
from security import audit_checkpoints as checkpoints
from security.audit import ChainReport


def append_about(session: Session, message_id: str, events: Sequence[audit.PendingEvent],
                 recipients: Iterable[str] = ()) -> None:
    """Append events about one message in the caller's transaction, each naming the
    message's sender and `recipients`, its DocumentId and the raw package's SHA-256.

    Raises sqlalchemy errors when the database refuses.
    """
    row = session.execute(
        select(Message.sender_org, Message.document_id, Message.sha256)
        .where(Message.id == message_id)
    ).first()
    if row is not None:
        orgs = (row.sender_org, *recipients)
        events = [audit.with_search_fields(e, organizations=orgs, document_id=row.document_id,
                                           sha256=row.sha256) for e in events]
    audit.append(session, events)


def verification_keys(settings: Settings, given: Sequence[Path] = ()
                      ) -> tuple[dict[str, Ed25519PublicKey], list[str]]:
    """The public keys checkpoints are checked with: those given, else the hub's own
    (from its signing key file) and the configured trusted ones; with notes on what is
    missing. Raises AuditKeyError for a file that is not an Ed25519 key."""
    if given:
        return checkpoints.keyring(given), []
    notes = []
    paths = list(settings.audit.trusted_public_keys)
    key_file = settings.audit.signing_key_file
    if key_file is not None and key_file.exists():
        paths.append(key_file)
    elif key_file is not None:
        notes.append(f"the signing key {key_file} does not exist here: give --public-key")
    return checkpoints.keyring(paths), notes


def checkpoint_files(settings: Settings, given: Sequence[Path] = ()
                     ) -> tuple[list[Path], list[str]]:
    """The checkpoint files to check against: those given, else the configured one."""
    if given:
        return list(given), []
    path = settings.audit.checkpoint_file
    if path is None:
        return [], ["no checkpoint file is configured (audit.checkpoint_file): a removed "
                    "end of the chain is detected only through the database's checkpoints"]
    if not path.exists():
        return [], [f"the checkpoint file {path} does not exist (yet)"]
    return [path], []


def verify_configured(db: Database, settings: Settings, public_keys: Sequence[Path] = (),
                      files: Sequence[Path] = ()) -> ChainReport:
    """The whole trail checked with the given or configured keys and checkpoint files.

    Raises AuditKeyError (a key file), OSError (a checkpoint file), ServiceUnavailable.
    """
    keys, key_notes = verification_keys(settings, public_keys)
    paths, file_notes = checkpoint_files(settings, files)
    with db.reading() as session:
        return checkpoints.verify_trail(session, keys, paths, [*key_notes, *file_notes])
