"""The real corpus against its manifest: the bytes as published, where each package comes
from, and the verdict the hub owes it: refused with its code, or (for the packages only the
interop profile accepts) refused today for exactly the deviation recorded, nothing else."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from core.errors import HubError, ValidationFailed
from core.model import Form
from core.settings import Settings
from schemas.edxml_codec import EdxmlCodec
from schemas.jsonform import JsonCodec
from schemas.offline import inspect_file
from tests.edxml_support import ORIGINAL, CorpusEntry, accepted_entries, manifest, refused_entries


def _read(known: CorpusEntry, settings: Settings) -> Any:
    codec = EdxmlCodec(settings) if known.form is Form.EDXML else JsonCodec(settings)
    return codec.read(known.raw(), known.kind)


def test_every_package_is_byte_for_byte_what_was_published() -> None:
    changed = [e.file for e in manifest()
               if hashlib.sha256(e.raw()).hexdigest() != e.sha256]
    assert changed == []


def test_every_package_says_where_it_comes_from_and_what_it_owes() -> None:
    for e in manifest():
        source = e.raw_entry["source"]
        assert {"repository", "commit", "path", "licence"} <= set(source), e.file
        assert e.raw_entry["what"], e.file
        assert e.verdict in {"accept", "refuse"}, e.file
        assert e.needs in {None, "interop"}, e.file
        if e.verdict == "refuse":
            assert e.code and e.raw_entry["reason"], e.file
        if e.needs:
            assert e.raw_entry["deviation"] and e.raw_entry["today"]["code"], e.file
    assert len(manifest()) > len(ORIGINAL)


@pytest.mark.parametrize("known", refused_entries(), ids=lambda e: e.name)
def test_a_refused_package_is_refused_with_its_code(known: CorpusEntry) -> None:
    with pytest.raises(HubError) as info:
        _read(known, Settings())
    assert info.value.code == known.code
    # and offline validation says so too, with a path for every error
    report = inspect_file(known.path, Settings())
    assert report.errors and all(error.path for error in report.errors)


@pytest.mark.parametrize("known", [e for e in accepted_entries() if e.needs],
                         ids=lambda e: e.name)
def test_an_interop_package_is_refused_under_strict_only_for_its_deviation(
    known: CorpusEntry
) -> None:
    """What the interop profile tolerates, with a warning at the deviation; the strict
    profile refuses it there and nowhere else."""
    today = known.raw_entry["today"]
    with pytest.raises(ValidationFailed) as info:
        _read(known, Settings(validation={"profile": "strict"}))
    assert {error.path for error in info.value.errors} == {today["path"]}
    envelope = _read(known, Settings())
    assert today["path"] in {w.path for w in envelope.warnings}


@pytest.mark.parametrize("known", [e for e in accepted_entries() if e.settings],
                         ids=lambda e: e.name)
def test_a_package_that_needs_a_setting_is_refused_without_it(known: CorpusEntry) -> None:
    with pytest.raises(HubError) as info:
        _read(known, Settings())
    assert info.value.code == known.raw_entry["by_default"]["code"]
    assert _read(known, Settings(**known.settings)).attachments
