"""What protection at rest costs: sealing and opening a package, and a whole submission.

    .venv/bin/python -m bench.atrest [--database-url postgresql+psycopg://...] [--rounds 5]

First AES-256-GCM alone (Sealer.seal / Sealer.open, with the SHA-256 every submission
already pays shown for scale), then submissions through the ingest pipeline and the group
commit writer, one at a time, protection off and on in alternating rounds on the same
database (a temporary SQLite file unless --database-url is given). Medians; the machine
is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import count

from bench.scenario import bench_directory, json_document
from core.model import Kind
from core.settings import Settings
from hub.context import HubContext
from security.atrest import Sealer

SIZES = {"5 KB": 5 * 1024, "100 KB": 100 * 1024, "1 MB": 1024 * 1024}


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


def crypto(rounds: int) -> None:
    sealer = Sealer(os.urandom(32))
    aad = b"lienthong/messages.raw/00000000-0000-0000-0000-000000000000"
    print(f"{'package':<10}{'seal':>12}{'open':>12}{'sha256':>12}")
    for name, size in SIZES.items():
        raw = json_document(1, size)
        blob = sealer.seal(raw, aad)
        seal = median_us(lambda r=raw: sealer.seal(r, aad), rounds)
        opened = median_us(lambda b=blob: sealer.open(b, aad), rounds)
        digest = median_us(lambda r=raw: hashlib.sha256(r).hexdigest(), rounds)
        print(f"{name:<10}{seal:>9.1f} us{opened:>9.1f} us{digest:>9.1f} us")


def ingest(url: str, rounds: int, per_round: int) -> None:
    ctx = HubContext.build(Settings(database_url=url, embedded_worker=False),
                           directory=bench_directory())
    system = ctx.directory.system("bench-sender")
    assert system is not None
    numbers = count(int(time.time() * 1000))
    sealers = {"off": Sealer(), "on": Sealer(os.urandom(32))}
    try:
        print(f"\nsubmissions one at a time on {ctx.db.engine.dialect.name} "
              f"({per_round} per round, {rounds} rounds)")
        print(f"{'package':<10}{'off':>12}{'on':>12}{'difference':>14}")
        for name, size in list(SIZES.items())[:2]:  # the JSON form's content stops short of 1 MB
            times: dict[str, list[float]] = {"off": [], "on": []}
            for _ in range(rounds):
                for mode, sealer in sealers.items():
                    ctx.ingest.writer.sealer = sealer
                    packages = [json_document(next(numbers), size) for _ in range(per_round)]
                    start = time.perf_counter()
                    for raw in packages:
                        ctx.ingest.submit(system, raw, "application/json", Kind.DOCUMENT)
                    times[mode].append((time.perf_counter() - start) / per_round * 1e6)
            off, on = statistics.median(times["off"]), statistics.median(times["on"])
            print(f"{name:<10}{off:>9.0f} us{on:>9.0f} us{on - off:>+11.0f} us")
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=40)
    args = parser.parse_args(argv)
    crypto(args.rounds)
    with tempfile.TemporaryDirectory(prefix="lt-bench-") as tmp:
        ingest(args.database_url or f"sqlite:///{tmp}/bench.db", args.rounds, args.per_round)
    return 0


if __name__ == "__main__":
    sys.exit(main())
