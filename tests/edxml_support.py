"""Shared by the edXML tests: the real corpus (the project's own copy, tests/corpus/, listed
with its provenance and verdicts in tests/corpus/manifest.json) and mutations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.model import Form, Kind

CORPUS_ROOT = Path(__file__).resolve().parent / "corpus"
CORPUS = CORPUS_ROOT / "edxml"
MANIFEST = CORPUS_ROOT / "manifest.json"
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

# the fifteen packages of the VDXP SDK example project, the corpus's first ground truth
ORIGINAL = (
    "edoc.edxml", "edoc_new.edxml", "edoc_update.edxml", "edoc_revocation.edxml",
    "edoc_replacement.edxml", "status.edxml", "status_inbox_01.edxml",
    "status_rejection_02.edxml", "status_acceptance_03.edxml", "status_assignment_04.edxml",
    "status_processing_05.edxml", "status_finish_06.edxml", "status_cancellation_13.edxml",
    "status_change-acceptance_15.edxml", "status_change-rejection_16.edxml",
)


@dataclass(frozen=True, eq=False)
class CorpusEntry:
    """One real package of the manifest and the verdict the hub owes it."""

    file: str                       # relative to tests/corpus
    sha256: str
    kind: Kind
    verdict: str                    # "accept" (under the interop profile) or "refuse"
    code: str | None = None         # the refusal's code when the verdict is "refuse"
    needs: str | None = None        # "interop" when only the interop profile accepts it
    status_code: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # what accepting it takes
    raw_entry: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def path(self) -> Path:
        return CORPUS_ROOT / self.file

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def form(self) -> Form:
        return Form.JSON if self.file.startswith("json/") else Form.EDXML

    @property
    def accepted_today(self) -> bool:
        """Accepted under the default profile (interop); `needs: interop` marks those the
        strict profile refuses."""
        return self.verdict == "accept"

    def raw(self) -> bytes:
        return self.path.read_bytes()


@cache
def manifest() -> tuple[CorpusEntry, ...]:
    """Every package of tests/corpus/manifest.json; fails if the manifest and the folders
    disagree or an original package is missing."""
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    entries = tuple(
        CorpusEntry(file=e["file"], sha256=e["sha256"], kind=Kind(e["kind"]),
                    verdict=e["verdict"], code=e.get("code"), needs=e.get("needs"),
                    status_code=e.get("status_code"), settings=e.get("settings", {}),
                    raw_entry=e)
        for e in data["packages"])
    listed = {e.file for e in entries}
    on_disk = {str(p.relative_to(CORPUS_ROOT)) for folder in ("edxml", "json")
               for p in (CORPUS_ROOT / folder).glob("*") if p.is_file()}
    assert listed == on_disk, f"manifest and corpus differ: {sorted(listed ^ on_disk)}"
    assert {f"edxml/{n}" for n in ORIGINAL} <= listed, "an original corpus package is missing"
    return entries


def entry(name: str) -> CorpusEntry:
    return next(e for e in manifest() if e.name == name)


def accepted_entries() -> list[CorpusEntry]:
    """The edXML packages the hub owes acceptance (under the interop profile)."""
    return [e for e in manifest() if e.form is Form.EDXML and e.verdict == "accept"]


def corpus_files() -> list[Path]:
    """The edXML packages the hub accepts today: the original fifteen and the new ones that
    need no profile."""
    return [e.path for e in accepted_entries() if e.accepted_today]


def corpus_params() -> list[Any]:
    """Every edXML package owed acceptance (under the default, interop, profile), as pytest
    parameters."""
    return [pytest.param(e.path, id=e.name) for e in accepted_entries()]


def strict_corpus_params() -> list[Any]:
    """The packages the schema files themselves accept (the strict profile): all those owed
    acceptance except the ones only the interop profile tolerates."""
    return [pytest.param(e.path, id=e.name) for e in accepted_entries() if e.needs is None]


def refused_entries() -> list[CorpusEntry]:
    return [e for e in manifest() if e.verdict == "refuse"]


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def kind_of_file(path: Path) -> Kind:
    for e in manifest():
        if e.path == path:
            return e.kind
    return Kind.STATUS if path.name.startswith("status") else Kind.DOCUMENT


def mutate(raw: bytes, old: str, new: str, count: int = 1) -> bytes:
    """`raw` with the first `count` occurrences of `old` replaced; fails if `old` is absent."""
    text = raw.decode("utf-8")
    assert old in text, f"{old!r} is not in the package"
    return text.replace(old, new, count).encode("utf-8")
