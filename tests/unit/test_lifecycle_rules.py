"""The life cycle's rules on the corpus's own packages: where an original is looked for, and
the key an update is known by (the same update again is a duplicate, another update is not a
reused DocumentId)."""

from __future__ import annotations

from core.model import Form, Kind
from core.settings import Settings
from hub.ingest.deduplicate import content_digest, dedup_key
from hub.ingest.lifecycle import is_lifecycle, original_document_ids
from hub.ingest.submission import Submission
from schemas.codec import CodecRegistry
from tests.corpus_directory import corpus_directory
from tests.support import CORPUS

SETTINGS = Settings()
THE_DOCUMENT = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"  # every G22 package's DocumentId


def submission(raw: bytes, kind: Kind = Kind.DOCUMENT) -> Submission:
    system = corpus_directory().system("vpcp")
    assert system is not None
    sub = Submission(system=system, raw=raw, media_type="application/xml", kind=kind,
                     channel="rest")
    sub.envelope = CodecRegistry(SETTINGS).for_form(Form.EDXML).read(raw, kind)
    sub.content_digest = content_digest(sub, SETTINGS.limits)
    sub.dedup_key = dedup_key(sub)
    return sub


def package(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_an_update_and_a_revocation_look_for_their_own_document_id() -> None:
    for name in ("edoc_update.edxml", "edoc_revocation.edxml"):
        env = submission(package(name)).parsed
        assert is_lifecycle(env)
        # not Bussiness/DocumentId: the new document carries one too, an impossible date
        assert original_document_ids(env) == [THE_DOCUMENT]


def test_a_replacement_looks_for_the_replaced_document_ids_then_its_own() -> None:
    env = submission(package("edoc_replacement.edxml")).parsed
    # the corpus lists the same replaced document twice: looked for once
    assert original_document_ids(env) == ["000.00.00.G22,2014/01/30,7806/VPCP-TTĐT",
                                          THE_DOCUMENT]


def test_a_new_document_and_ordinary_statuses_are_not_changes_but_a_recall_is() -> None:
    assert not is_lifecycle(submission(package("edoc_new.edxml")).parsed)
    assert not is_lifecycle(submission(package("status_inbox_01.edxml"), Kind.STATUS).parsed)
    assert is_lifecycle(submission(package("status_cancellation_13.edxml"), Kind.STATUS).parsed)


def test_the_same_update_has_one_key_and_another_update_another() -> None:
    raw = package("edoc_update.edxml")
    again = submission(raw).dedup_key
    assert submission(raw).dedup_key == again
    other = raw.replace(b"<edXML:BussinessDocReason>C", b"<edXML:BussinessDocReason>L", 1)
    assert submission(other).dedup_key != again
    # a new document is known by (sender, DocumentId, type) alone: other content is a reuse
    new = submission(package("edoc_new.edxml"))
    assert new.dedup_key == f"doc|{new.parsed.sender}|{new.parsed.document_id}|0"
