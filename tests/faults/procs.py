"""The hub as processes: `lienthong serve` API processes and `lienthong worker` processes,
started by the command itself, killed with SIGKILL and started again."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import wait_until


@dataclass
class HubProcess:
    """One `lienthong` process; its output goes to `log` (appended across restarts)."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # where this start's output begins in the log
    _offset: int = 0
    _terminating: bool = False
    exit_codes: list[int] = field(default_factory=list)

    def start(self) -> None:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self._terminating = False
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "hub.cli", *self.args],
                                         env=self.env, cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.starts += 1

    def output(self) -> str:
        """What this start of the process has written so far."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 90) -> None:
        def check() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.proc and self.proc.poll()}) "
                                     f"before it was ready:\n{self.output()[-3000:]}")
            return self.ready()

        wait_until(check, timeout=timeout, interval=0.1, what=f"{self.name} to be ready")

    def kill(self) -> int:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would; returns its exit code."""
        assert self.proc is not None and self.alive(), f"{self.name} is not running"
        self.proc.send_signal(signal.SIGKILL)
        code = self.proc.wait(timeout=10)
        self.exit_codes.append(code)
        return code

    def terminate(self) -> None:
        """SIGTERM: finish what is in hand and exit (see `stop`)."""
        if self.proc is not None and self.alive() and not self._terminating:
            self._terminating = True  # once: a second SIGTERM makes uvicorn quit at once
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not finish within 30 s."""
        if self.proc is None or not self.alive():
            return
        self.terminate()
        try:
            self.exit_codes.append(self.proc.wait(timeout=30))
        except subprocess.TimeoutExpired:
            self.exit_codes.append(self.kill())


@dataclass
class ApiProcess(HubProcess):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        """/readyz answers 200: the database and the broker both answer it."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class WorkerProcess(HubProcess):
    def ready(self) -> bool:
        return "worker started" in self.output()


def api(name: str, port: int, env: dict[str, str], cwd: Path) -> ApiProcess:
    return ApiProcess(name, ["serve", "--host", "127.0.0.1", "--port", str(port)], env, cwd,
                      cwd / f"{name}.log", port=port)


def worker(name: str, env: dict[str, str], cwd: Path) -> WorkerProcess:
    return WorkerProcess(name, ["worker"], env, cwd, cwd / f"{name}.log")


SWEPT = re.compile(r"sweeper re-enqueued \d+ deliveries \(([^)]*)\)")


def tracebacks(logs: list[Path]) -> dict[str, int]:
    """How many log records of each process carried a traceback (a chained exception's
    tracebacks count once): an outage should be said, not dumped."""
    counts = {}
    for path in logs:
        if path.exists():
            text = path.read_text(errors="replace")
            chained = (text.count("The above exception was the direct cause")
                       + text.count("During handling of the above exception"))
            counts[path.stem] = text.count("Traceback (most recent call") - chained
    return counts


def recovered(logs: list[Path]) -> dict[str, int]:
    """What the sweepers said they sent again, by reason, summed over the logs."""
    total: Counter[str] = Counter()
    for path in logs:
        if not path.exists():
            continue
        for match in SWEPT.finditer(path.read_text(errors="replace")):
            for part in match.group(1).split(", "):
                reason, _, count = part.partition("=")
                total[reason] += int(count)
    return dict(sorted(total.items()))
