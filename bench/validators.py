"""The two edXML validators side by side: lxml + XSD 1.0 against xmlschema + XSD 1.1.

    .venv/bin/python -m bench.validators [--corpus tests/corpus/edxml]

Packages of about 5 KB and 100 KB are built from a corpus document (a small real ZIP as
the attachment; for 100 KB, more recipients and a larger attachment). Each validator runs
on an already parsed tree, so the figures are the schema check alone; the whole
EdxmlCodec.read is shown for scale. Medians of several rounds; the machine is shared.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import xmlschema

from core.model import Kind
from core.settings import Limits, Settings
from schemas.edxml_codec import EdxmlCodec
from schemas.edxml_package import parse_package
from schemas.edxml_schema import authoritative_schema, canonicalise, fast_schema

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "edxml"
RECIPIENT = re.compile(rb"\s*<edXML:To>.*?</edXML:To>", re.S)


def _zip(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("van-ban.bin", os.urandom(size))
    return buf.getvalue()


def package(corpus: Path, attachment: int, recipients: int, signed: bool = True) -> bytes:
    """A valid document package with an attachment of about `attachment` bytes."""
    raw = (corpus / "edoc_update.edxml").read_bytes()
    if not signed:
        raw = re.sub(rb"\s*<Signature>.*</Signature>", b"", raw, flags=re.S)
        raw = re.sub(rb"\s*<edXML:BussinessDocumentInfo>.*</edXML:BussinessDocumentInfo>", b"",
                     raw, flags=re.S)
        raw = RECIPIENT.sub(b"", raw, count=2)
    body = base64.encodebytes(_zip(attachment))
    raw = re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*",
                 lambda m: m.group(1) + body, raw)
    first = RECIPIENT.search(raw)
    assert first is not None
    extra = b"".join(first.group(0).replace(b"000.00.00.H41", b"000.00.%02d.H57" % (i % 100))
                     for i in range(recipients))
    return raw[: first.end()] + extra + raw[first.end() :]


def median_us(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm up
    runs = []
    for _ in range(rounds):
        loops = 0
        start = time.perf_counter()
        while loops < 20 or time.perf_counter() - start < 0.2:
            fn()
            loops += 1
        runs.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    codec = EdxmlCodec(Settings())
    xsd11 = authoritative_schema()
    cases = {
        "about 5 KB": package(args.corpus, attachment=300, recipients=0, signed=False),
        "100 KB, large attachment": package(args.corpus, attachment=70_000, recipients=0),
        "100 KB, 150 recipients": package(args.corpus, attachment=800, recipients=150),
    }
    print(f"{'package':<28}{'bytes':>9}{'lxml XSD 1.0':>15}{'xmlschema 1.1':>16}"
          f"{'ratio':>8}{'codec.read':>13}")
    for name, raw in cases.items():
        tree = parse_package(raw, Limits()).root
        canonicalise(tree)
        assert fast_schema().validate(tree)
        assert xsd11.is_valid(xmlschema.XMLResource(tree, allow="none"))
        fast = median_us(lambda t=tree: fast_schema().validate(t), args.rounds)
        slow = median_us(lambda t=tree: xsd11.is_valid(xmlschema.XMLResource(t, allow="none")),
                         args.rounds)
        read = median_us(lambda r=raw: codec.read(r, Kind.DOCUMENT), args.rounds)
        print(f"{name:<28}{len(raw):>9}{fast:>12.0f} us{slow:>13.0f} us{slow / fast:>7.0f}x"
              f"{read:>10.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
