"""Reloading the directory and the routing rules without a restart: validated whole, swapped
atomically, audited.

Four triggers reach `Reloader.reload`, in every API and worker process:
- the file watch: every `directory_watch_interval_s` seconds (0 = off) the directory file's
  and the rules file's (`routing.rules_file`) modification time and size are compared, and
  on a change their SHA-256;
- SIGHUP to `lienthong serve` or `lienthong worker` (`install_sighup`);
- `POST /api/v1/admin/reload` (hub/api/admin.py), which answers what changed;
- in production, a notice on Redis (channel `<broker_namespace>:directory`) published by
  the process that reloaded on SIGHUP or the endpoint, so every other process reloads at
  once rather than at its next look at the file.

A file that does not load, or a push system its adapter cannot serve, changes nothing: the
snapshot in force stays, one log line and one `directory.reload_failed` audit event say why
(once per version of the file, however often the watch looks at it). A good file is
checked, the egress gateway's destinations and the adapters follow it, then the snapshot
is swapped and `directory.reloaded` recorded with both SHA-256 and the counts. Each process
records its own reload (`detail.process`), so the trail shows every process took it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import Conflict, HubError, PermanentError
from hub.polling import check_polled
from hub.routing_config import Difference, RoutingConfig, difference, file_sha256, load_config
from security import audit
from security.egress import registered_destinations

if TYPE_CHECKING:
    from hub.context import HubContext

log = logging.getLogger(__name__)
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

WATCH, SIGHUP, ADMIN, NOTICE = "watch", "sighup", "admin", "notice"
# explicit triggers are audited even when the file did not change; the others only on news
EXPLICIT = frozenset({SIGHUP, ADMIN})


class ReloadRefused(PermanentError):
    """The directory file on disk cannot be used; the directory in force stays."""

    http_status = 422
    code = "directory_invalid"
    title = "The directory file is invalid"


class NotReloadable(Conflict):
    code = "directory_not_reloadable"


@dataclass(frozen=True)
class ReloadReport:
    """What a reload did: `reloaded` (swapped) or `unchanged` (the file is the one in force)."""

    status: str
    trigger: str
    old_sha256: str
    new_sha256: str
    changes: Difference
    # the rules file's SHA-256 before and after ("" without a rules file)
    old_rules_sha256: str = ""
    rules_sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "trigger": self.trigger, "process": PROCESS,
                "old_sha256": self.old_sha256, "sha256": self.new_sha256,
                "old_rules_sha256": self.old_rules_sha256, "rules_sha256": self.rules_sha256,
                **self.changes.as_dict()}


class Reloader:
    """Reloads one hub context's routing snapshot; one reload at a time per process."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: str | None = None
        self._stat: tuple[tuple[int, int, int], ...] | None = None
        self._failed_sha: str | None = None  # the last bad version seen (said once)
        self._threads: list[threading.Thread] = []
        self._notices = Notices(ctx.settings.redis_url, ctx.settings.broker_namespace,
                                f"{PROCESS}:{uuid.uuid4().hex[:8]}")

    @property
    def source(self) -> Path | None:
        return self.ctx.routing.latest().source

    # -- the one path ---------------------------------------------------------------------
    def reload(self, trigger: str, actor: str = "hub", *, notify: bool = True) -> ReloadReport:
        """Load the directory file again and make it current if it is valid and new.

        Raises NotReloadable when the directory in force was not read from a file, and
        ReloadRefused (after logging and auditing it) when the file cannot be used.
        """
        with self._lock:
            current = self.ctx.routing.latest()
            path = current.source
            if path is None:
                raise NotReloadable(
                    "this hub's directory was given in memory, not read from a file: there "
                    "is nothing to reload",
                    detail_vi="Danh bạ của trục không được đọc từ tệp: không có gì để nạp lại")
            rules_file = self.ctx.settings.routing.rules_file
            try:
                data = path.read_bytes()
                rules_data = rules_file.read_bytes() if rules_file is not None else None
            except OSError as exc:
                raise self._refused(trigger, actor, current, "", f"cannot read {exc.filename}: "
                                    f"{exc.strerror}") from exc
            rules_sha = file_sha256(rules_data) if rules_data is not None else ""
            sha = file_sha256(data)
            if sha == current.sha256 and rules_sha == current.rules_sha256:
                report = ReloadReport("unchanged", trigger, current.sha256, sha,
                                      difference(current, current), current.rules_sha256,
                                      rules_sha)
                if trigger in EXPLICIT:
                    self._audit("directory.reloaded", actor, {**report.as_dict()})
                self._failed_sha = None
                return report
            try:
                new = load_config(path, data, rules_file=rules_file, rules_data=rules_data)
                # every push system must suit its adapter before anything changes
                self.ctx.adapters.build(new.directory.systems())
                check_polled(new.directory, self.ctx.adapters)
            except HubError as exc:
                raise self._refused(trigger, actor, current, sha + rules_sha, exc.detail) from exc
            self.ctx.egress.set_destinations(registered_destinations(new.directory.systems()))
            old = self.ctx.routing.swap(new)
            self._failed_sha = None
            report = ReloadReport("reloaded", trigger, old.sha256, new.sha256,
                                  difference(old, new), old.rules_sha256, new.rules_sha256)
            log.warning("directory %s reloaded (%s): %s -> %s; organisations %s, systems %s",
                        path, trigger, old.sha256[:12] or "-", new.sha256[:12],
                        report.changes.organizations.as_dict(), report.changes.systems.as_dict())
            self._audit("directory.reloaded", actor, report.as_dict())
        if notify and trigger in EXPLICIT:
            self._notices.publish(new.sha256)
        return report

    def _refused(self, trigger: str, actor: str, current: RoutingConfig, sha: str,
                 reason: str) -> ReloadRefused:
        if trigger in EXPLICIT or sha != self._failed_sha or not sha:
            log.error("directory %s not reloaded (%s): %s; the directory in force "
                      "(SHA-256 %s) stays", current.source, trigger, reason,
                      current.sha256[:12] or "-")
            self._audit("directory.reload_failed", actor, {
                "trigger": trigger, "process": PROCESS, "reason": reason[:2000],
                "sha256": sha, "current_sha256": current.sha256})
        self._failed_sha = sha
        return ReloadRefused(
            f"the directory file was not reloaded: {reason}; the directory in force stays",
            detail_vi="Tệp danh bạ không hợp lệ nên không được nạp lại; danh bạ đang dùng "
                      "được giữ nguyên")

    def _audit(self, event: str, actor: str, detail: dict[str, Any]) -> None:
        try:
            with self.ctx.db.transaction() as session:
                audit.append(session, [audit.PendingEvent(event, actor=actor, detail=detail)])
        except Exception:  # the reload stands (or not) whether or not its record is written
            log.warning("could not audit %s", event, exc_info=True)

    # -- the triggers ---------------------------------------------------------------------
    def request(self, trigger: str) -> None:
        """Ask the watch thread to reload soon (safe from a signal handler)."""
        self._pending = trigger
        self._wake.set()

    def check_file(self) -> ReloadReport | None:
        """The file watch's one look: reload when the file changed since the last look."""
        path = self.source
        if path is None:
            return None
        rules_file = self.ctx.settings.routing.rules_file
        try:
            stat = tuple((st.st_mtime_ns, st.st_size, st.st_ino)
                         for st in (p.stat() for p in (path, rules_file) if p is not None))
        except OSError:
            return None  # being replaced, or gone: the next look sees the result
        if stat == self._stat:
            return None
        self._stat = stat
        try:
            return self.reload(WATCH)
        except HubError:
            return None  # said once by reload

    def start(self) -> None:
        """Run the watch (and, in production, the notice listener) in this process."""
        if self._threads or self.source is None:
            return
        self._stop.clear()
        self._stat = None  # the first look compares hashes: a change since start-up counts
        watch = threading.Thread(target=self._watch, name="lienthong-directory-watch",
                                 daemon=True)
        self._threads.append(watch)
        if self._notices.enabled:
            self._threads.append(threading.Thread(
                target=self._notices.listen, args=(self._stop, lambda: self.request(NOTICE)),
                name="lienthong-directory-notices", daemon=True))
        for t in self._threads:
            t.start()

    def _watch(self) -> None:
        interval = self.ctx.settings.directory_watch_interval_s
        while not self._stop.is_set():
            self._wake.wait(interval if interval > 0 else None)
            if self._stop.is_set():
                return
            self._wake.clear()
            trigger, self._pending = self._pending, None
            try:
                if trigger is not None:
                    self.reload(trigger)
                elif interval > 0:
                    self.check_file()
            except HubError:
                pass  # said once by reload
            except Exception:
                log.warning("directory reload crashed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []


class Notices:
    """Reload notices between processes over Redis pub/sub (production mode only)."""

    def __init__(self, redis_url: str | None, namespace: str, sender: str) -> None:
        self.redis_url = redis_url
        self.channel = f"{namespace}:directory"
        self.sender = sender  # this hub's name on the channel: its own notices are skipped
        self._down = False

    @property
    def enabled(self) -> bool:
        return self.redis_url is not None

    def publish(self, sha256: str) -> None:
        """Tell the other processes; never raises (their file watch catches up anyway)."""
        if self.redis_url is None:
            return
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
            try:
                client.publish(self.channel, json.dumps({"sha256": sha256, "from": self.sender}))
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - a notice is a shortcut, not the guarantee
            log.warning("could not tell other processes of the reload (%s); their file watch "
                        "picks it up", type(exc).__name__)

    def listen(self, stop: threading.Event, on_notice: Callable[[], None]) -> None:
        """Call `on_notice` for every other process's notice until `stop` is set; when
        Redis is away, say so once and keep trying."""
        import redis

        assert self.redis_url is not None
        while not stop.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if self._down:
                    log.warning("directory notices: Redis reachable again")
                    self._down = False
                try:
                    while not stop.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        if _sender(message.get("data")) not in (self.sender, None):
                            on_notice()
                finally:
                    pubsub.close()
                    client.close()
            except Exception as exc:  # noqa: BLE001 - keep listening once Redis is back
                if not self._down:
                    log.error("directory notices: Redis unavailable (%s); the file watch "
                              "still picks changes up", type(exc).__name__)
                    self._down = True
                stop.wait(2.0)


def _sender(data: Any) -> str | None:
    try:
        sender = json.loads(data).get("from")
    except (TypeError, ValueError, AttributeError):
        return None
    return sender if isinstance(sender, str) else None


def install_sighup(reloader: Reloader) -> Callable[[], None]:
    """Reload on SIGHUP in this process; returns what restores the previous handler. Does
    nothing outside the main thread (a hub run inside tests) or where there is no SIGHUP."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGHUP, lambda _n, _f: reloader.request(SIGHUP))

    def restore() -> None:
        signal.signal(signal.SIGHUP, previous)

    return restore
