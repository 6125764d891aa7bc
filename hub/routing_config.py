"""The routing configuration in force: one immutable snapshot, swapped whole.

Every reader (authentication, ingest, the inbox, delivery, the egress gateway's
destinations, the adapter registry) asks `RoutingState.current()` when it starts a piece of
work and keeps the snapshot it got until the work ends: a request in flight finishes with
the snapshot it started with (`pinned` holds one for a whole request), and nobody ever sees
a half-built one, because a new snapshot is built and checked completely before `swap`
makes it current in one assignment.

A snapshot is one frozen dataclass: the directory and the routing rules (`routing.
rules_file`, checked against that directory), loaded together by `load_config`; the reloader
(hub/reload.py) validates, swaps and audits them as one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from routing.directory import Directory, DirectoryError
from routing.rules import RulesError, RuleSet, load_rules_bytes


@dataclass(frozen=True)
class RoutingConfig:
    """What routing reads, as one whole: the directory, the routing rules, and where they
    came from."""

    directory: Directory
    # SHA-256 of the directory file's bytes ("" for a directory built in memory)
    sha256: str = ""
    source: Path | None = None
    rules: RuleSet = field(default_factory=RuleSet)
    # SHA-256 of the rules file's bytes ("" without one)
    rules_sha256: str = ""
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_config(path: Path, data: bytes | None = None, *, rules_file: Path | None = None,
                rules_data: bytes | None = None) -> RoutingConfig:
    """A snapshot from the directory file at `path` and the rules file (or their bytes, read
    once by the caller).

    Raises DirectoryError or RulesError naming the file and what is wrong in it.
    """
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DirectoryError(f"cannot read directory {path}: {exc}") from exc
    directory = Directory.from_bytes(data, str(path))
    rules, rules_sha = RuleSet(), ""
    if rules_file is not None:
        if rules_data is None:
            rules_data = read_rules(rules_file)
        rules = load_rules_bytes(rules_data, rules_file)
        rules.check(directory)
        rules_sha = file_sha256(rules_data)
    return RoutingConfig(directory, file_sha256(data), path, rules, rules_sha)


def read_rules(path: Path) -> bytes:
    """Raises RulesError when the rules file cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read routing rules {path}: {exc}") from exc


class RoutingState:
    """Holds the current snapshot; `swap` replaces it atomically."""

    def __init__(self, config: RoutingConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        # the snapshot a request pinned for itself (hub/api/routing_pin.py)
        self._pin: ContextVar[RoutingConfig | None] = ContextVar(
            f"lienthong_routing_{id(self)}", default=None)

    def current(self) -> RoutingConfig:
        """The snapshot pinned by the work in progress, else the one in force."""
        return self._pin.get() or self._config

    def latest(self) -> RoutingConfig:
        """The snapshot in force, whatever the work in progress pinned."""
        return self._config

    @contextlib.contextmanager
    def pinned(self) -> Iterator[RoutingConfig]:
        """Keep the snapshot in force now for everything run in this context (threads
        started with its context included), even if a reload swaps it meanwhile."""
        token = self._pin.set(self._config)
        try:
            yield self._config
        finally:
            self._pin.reset(token)

    def swap(self, config: RoutingConfig) -> RoutingConfig:
        """Make `config` current; returns the snapshot it replaced."""
        with self._lock:
            old, self._config = self._config, config
        return old


@dataclass(frozen=True)
class Changes:
    """Counts of what a new snapshot adds, removes and changes."""

    added: int = 0
    removed: int = 0
    changed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def _compare(old: dict[str, object], new: dict[str, object]) -> Changes:
    return Changes(added=len(new.keys() - old.keys()), removed=len(old.keys() - new.keys()),
                   changed=sum(1 for k in old.keys() & new.keys() if old[k] != new[k]))


@dataclass(frozen=True)
class Difference:
    organizations: Changes
    systems: Changes

    @property
    def empty(self) -> bool:
        return self.organizations == Changes() and self.systems == Changes()

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"organizations": self.organizations.as_dict(),
                "systems": self.systems.as_dict()}


def difference(old: RoutingConfig, new: RoutingConfig) -> Difference:
    """What changed from `old` to `new`, by organisation code and system id."""
    return Difference(
        _compare({o.code: o for o in old.directory.organizations()},
                 {o.code: o for o in new.directory.organizations()}),
        _compare({s.id: s for s in old.directory.systems()},
                 {s.id: s for s in new.directory.systems()}),
    )
