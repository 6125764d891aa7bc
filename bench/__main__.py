"""Run the benchmark: each scenario in interleaved rounds, medians and ratios printed.

    make bench                         # defaults
    make bench BENCH_ARGS="--requests 3000 --concurrency 32 --rounds 5"

Servers run as separate uvicorn processes (one each); the load comes from this process.
The machine is shared and noisy, so every figure is read next to the bare endpoint
measured in the same run, round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import client
from bench.scenario import Scenario, scenarios
from bench.signed_scenarios import signing_env

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RoundResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(which: str, env: dict[str, str], processes: int = 1) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.server", which, "--port", str(port),
                             "--processes", str(processes)], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/docs", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{which} server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def load(url: str, sc: Scenario, bodies: list[bytes], concurrency: int) -> RoundResult:
    headers = {"Content-Type": sc.content_type, **sc.headers}
    latencies, failures, elapsed = await client.run(url, sc.path, headers, bodies, concurrency)
    if failures:
        print(f"  first error: {failures[0][0]} {failures[0][1]!r}", file=sys.stderr)
    latencies.sort()
    return RoundResult(
        rps=len(bodies) / elapsed,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors=len(failures),
    )


@contextlib.contextmanager
def database_env(mode: str) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    if mode == "embedded":
        tmp = ROOT / "var" / f"bench-{os.getpid()}.db"
        tmp.parent.mkdir(exist_ok=True)
        env["LIENTHONG_DATABASE_URL"] = f"sqlite:///{tmp}"
        try:
            yield env
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
        return
    from tests.services import fresh_database

    pg = os.environ.get("LIENTHONG_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with fresh_database(pg, "lt_bench") as url:
        env["LIENTHONG_DATABASE_URL"] = url
        env["LIENTHONG_REDIS_URL"] = os.environ.get("LIENTHONG_TEST_REDIS_URL",
                                                    "redis://127.0.0.1:6379/0")
        env["LIENTHONG_BROKER_NAMESPACE"] = f"lt-bench-{os.getpid()}"
        yield env


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=["production", "embedded"], default="production",
                        help="PostgreSQL + Redis (default) or SQLite + in-process broker")
    parser.add_argument("--only", default="", help="run scenarios whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes for each server under test")
    args = parser.parse_args()

    every = scenarios()
    picked = {s.name for s in every if args.only.lower() in s.name.lower()}
    # a signed scenario brings the unsigned one it is read against
    picked |= {s.baseline for s in every if s.name in picked and s.baseline}
    chosen = [s for s in every if s.name in picked or s.server == "bare"]
    print(f"lienthong bench: {args.requests} requests x {args.rounds} rounds, concurrency "
          f"{args.concurrency}, mode {args.mode}, {args.processes} server process(es) each, "
          f"{os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    results: dict[str, list[RoundResult]] = {s.name: [] for s in chosen}
    counter = 0
    with database_env(args.mode) as env, signing_env() as trust:
        env.update(trust)
        servers = {which: server(which, env, args.processes)
                   for which in {s.server for s in chosen}}
        with contextlib.ExitStack() as stack:
            urls = {which: stack.enter_context(cm) for which, cm in servers.items()}
            for sc in chosen:  # warm-up: imports, JIT-free but caches, connection pools
                bodies = [sc.make(counter + i, sc.size) for i in range(50)]
                counter += 50
                asyncio.run(load(urls[sc.server], sc, bodies, args.concurrency))
            for rnd in range(args.rounds):
                for sc in chosen:
                    n = args.requests if sc.size <= 16 * 1024 else max(200, args.requests // 5)
                    bodies = [sc.make(counter + i, sc.size) for i in range(n)]
                    counter += n
                    r = asyncio.run(load(urls[sc.server], sc, bodies, args.concurrency))
                    results[sc.name].append(r)
                    print(f"  round {rnd + 1}: {sc.name:<40} {r.rps:8.0f} req/s  "
                          f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms"
                          + (f"  ERRORS {r.errors}" if r.errors else ""))
    # every figure is read against the bare endpoint at the same size, from the same rounds
    bare_by_size = {s.size: s.name for s in chosen if s.server == "bare"}
    size_of = {s.name: s.size for s in chosen}
    med = {name: (statistics.median(r.rps for r in rs), statistics.median(r.p50_ms for r in rs),
                  statistics.median(r.p99_ms for r in rs), sum(r.errors for r in rs))
           for name, rs in results.items()}
    print()
    baseline_of = {s.name: s.baseline for s in chosen if s.baseline in med}
    print(f"{'scenario (median of rounds)':<52}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'x bare':>9}{'x unsigned':>12}{'errors':>8}")
    for name, (rps, p50, p99, errs) in med.items():
        bare = bare_by_size.get(size_of[name], chosen[0].name)
        ratio = rps / med[bare][0]
        base = baseline_of.get(name)
        versus = f"{rps / med[base][0]:12.3f}" if base else f"{'':12}"
        print(f"{name:<52}{rps:9.0f}{p50:9.2f}{p99:9.2f}{ratio:9.3f}{versus}{errs:8d}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "median": med}, indent=2))


if __name__ == "__main__":
    main()
