"""Shared by the edXML tests: the real corpus (the project's own copy, tests/corpus/) and
mutations."""

from __future__ import annotations

from pathlib import Path

from core.model import Kind

CORPUS = Path(__file__).resolve().parent / "corpus" / "edxml"
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.edxml"))
    assert len(files) == 15, f"expected the 15 corpus packages in {CORPUS}"
    return files


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def kind_of_file(path: Path) -> Kind:
    return Kind.STATUS if path.name.startswith("status") else Kind.DOCUMENT


def mutate(raw: bytes, old: str, new: str, count: int = 1) -> bytes:
    """`raw` with the first `count` occurrences of `old` replaced; fails if `old` is absent."""
    text = raw.decode("utf-8")
    assert old in text, f"{old!r} is not in the package"
    return text.replace(old, new, count).encode("utf-8")
