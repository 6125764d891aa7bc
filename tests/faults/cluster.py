"""The fault test's own PostgreSQL cluster and Redis server, which it kills and restarts.

Both are started from the binaries on this machine (PostgreSQL from the Debian layout
/usr/lib/postgresql/<version>/bin, else PATH; redis-server from PATH) on free loopback
ports, never the shared servers other tests use. A missing binary skips the test with the
reason, and fails it under CI=true.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

from tests.services import unavailable
from tests.support import free_port, wait_until

PG_BIN_ROOT = Path("/usr/lib/postgresql")
# initdb and postgres refuse to run as root: as root, the cluster runs as this account
PG_ACCOUNT = "postgres"


def missing(what: str) -> NoReturn:
    """Fail under CI, skip elsewhere, saying what is missing (tests/services.py)."""
    unavailable(f"the fault test needs {what}")


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, else the
    folder of the pg_ctl on PATH."""
    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.name)) or (0,)

    if PG_BIN_ROOT.is_dir():
        for folder in sorted(PG_BIN_ROOT.iterdir(), key=version, reverse=True):
            bindir = folder / "bin"
            if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
                return bindir
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").is_file():
        return Path(found).resolve().parent
    return None


class PostgresCluster:
    """initdb into a fresh folder, pg_ctl on a free port; stopped fast or immediately."""

    def __init__(self, bindir: Path, root: Path, port: int, account: str | None) -> None:
        self.bindir, self.root, self.port, self.account = bindir, root, port, account
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.starts = 0

    @classmethod
    def create(cls) -> PostgresCluster:
        """Find the binaries and the account to run them as; skip or fail if there is none."""
        bindir = postgres_bindir()
        if bindir is None:
            missing("PostgreSQL's initdb and pg_ctl (apt install postgresql)")
            raise AssertionError("unreachable")
        account = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_ACCOUNT)
            except KeyError:
                missing(f"an account named {PG_ACCOUNT} to run PostgreSQL as (initdb refuses "
                        "root)")
            if shutil.which("runuser") is None:
                missing("runuser, to run PostgreSQL as an unprivileged account")
            account = PG_ACCOUNT
        # under /tmp rather than pytest's tmp dir, which the postgres account cannot enter
        root = Path(tempfile.mkdtemp(prefix="lt-faults-pg-"))
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        return cls(bindir, root, free_port(), account)

    def _command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bindir / tool), *args]
        return ["runuser", "-u", self.account, "--", *argv] if self.account else argv

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(self._command(tool, *args), capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{tool} {' '.join(args)} failed ({done.returncode}): "
                                 f"{done.stderr.strip() or done.stdout.strip()}\n{tail}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def start(self) -> None:
        # enough connections for four hub processes' pools; the socket beside the data
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")
        self.starts += 1

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: the server processes quit at once, without a checkpoint,
        and the next start recovers from the write-ahead log."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str = "faults") -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def started_at(self) -> str:
        """The server's start time: a restart changes it."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
            assert row is not None
            return str(row[0])

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """redis-server on a free port without persistence: a restart loses everything."""

    def __init__(self, binary: str, root: Path, port: int) -> None:
        self.binary, self.root, self.port = binary, root, port
        self.log = root / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @classmethod
    def create(cls, root: Path) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server (apt install redis-server)")
            raise AssertionError("unreachable")
        root.mkdir(parents=True, exist_ok=True)
        return cls(binary, root, free_port())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.root),
                 "--protected-mode", "no"], stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        wait_until(self.answers, timeout=20, what=f"redis-server on port {self.port}")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def run_id(self) -> str:
        import redis

        return str(redis.Redis(port=self.port, socket_timeout=2).info("server")["run_id"])

    def kill(self) -> None:
        """SIGKILL: whatever it held (queues, delayed retries, rate-limit buckets) is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
