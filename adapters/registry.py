"""The adapter registry: adapter names in the directory mapped to instances built at start-up.

Adapters come from two places: the built-in ones (rest, soap), and third-party packages
that declare an entry point in the group `lienthong.adapters` (name = the adapter name,
value = the adapter class or a factory taking the Egress). An entry point is loaded only
when the directory names its adapter (or `lienthong adapters list` describes it).
"""

from __future__ import annotations

import importlib.metadata as metadata
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from adapters.base import (
    Adapter,
    Capabilities,
    ConfigurationCheck,
    capabilities_of,
    options_model_of,
    validate_options,
)
from core.errors import AdapterMisconfigured, HubError, PermanentError
from routing.directory import System
from security.egress import Egress

log = logging.getLogger(__name__)

AdapterFactory = Callable[[Egress], Adapter]
GROUP = "lienthong.adapters"
DISTRIBUTION = "lienthong"


def builtin_factories() -> dict[str, AdapterFactory]:
    from adapters.email_notify import EmailNotifyAdapter
    from adapters.file_drop import FileDropAdapter
    from adapters.hub_forward import HubForwardAdapter
    from adapters.rest_push import RestPushAdapter
    from adapters.soap_push import SoapPushAdapter
    from adapters.vdxp import VdxpAdapter

    return {"rest": RestPushAdapter, "soap": SoapPushAdapter, "vdxp": VdxpAdapter,
            "file": FileDropAdapter, "hub": HubForwardAdapter, "email": EmailNotifyAdapter}


@dataclass(frozen=True)
class Source:
    """Where an adapter comes from: built in, or a distribution's entry point."""

    name: str
    distribution: str
    version: str
    target: str  # module:attribute
    entry_point: metadata.EntryPoint | None = None

    @property
    def builtin(self) -> bool:
        return self.entry_point is None

    def load(self) -> AdapterFactory:
        """The adapter class (factory). Raises HubError (`adapter_failed`) naming the
        distribution when its entry point cannot be imported."""
        if self.entry_point is None:
            return builtin_factories()[self.name]
        try:
            loaded = self.entry_point.load()
        except Exception as exc:
            raise HubError(
                f"adapter {self.name!r} from the distribution {self.distribution} "
                f"{self.version} failed to load ({self.target}): {type(exc).__name__}: {exc}; "
                f"reinstall or upgrade {self.distribution}", code="adapter_failed") from exc
        if not callable(loaded):
            raise HubError(
                f"adapter {self.name!r} from the distribution {self.distribution}: "
                f"{self.target} is not an adapter class or factory", code="adapter_failed")
        return loaded  # type: ignore[no-any-return]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def discover() -> dict[str, Source]:
    """Every adapter available: the built-in ones, then the entry points of the group
    `lienthong.adapters` (an entry point never replaces a built-in adapter)."""
    found: dict[str, Source] = {}
    for name, factory in builtin_factories().items():
        found[name] = Source(name, DISTRIBUTION, _version(DISTRIBUTION),
                             f"{factory.__module__}:{factory.__qualname__}")
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        if ep.name in found:
            log.warning("entry point %s from %s ignored: %r is a built-in adapter",
                        ep.value, dist, ep.name)
            continue
        version = ep.dist.version if ep.dist is not None else "unknown"
        found[ep.name] = Source(ep.name, dist, version, ep.value, ep)
    return found


class AdapterRegistry:
    """Builds every adapter the directory uses once, at start-up, and checks each push system
    against its adapter; a delivery only looks its adapter up.

    A broken adapter or configuration thus stops the hub from starting, instead of showing up
    later as deliveries that fail.
    """

    def __init__(self, egress: Egress, factories: dict[str, AdapterFactory] | None = None) -> None:
        """`factories` replaces discovery (tests); without it, built-in adapters and the
        entry points of `lienthong.adapters` are available, loaded on first use."""
        self.egress = egress
        self._sources: dict[str, Source] = {} if factories is not None else discover()
        self._factories = dict(factories) if factories is not None else {}
        self._adapters: dict[str, Adapter] = {}

    def register(self, name: str, adapter: Adapter) -> None:
        """Use an adapter built elsewhere under `name` (it is still checked by `build`)."""
        self._adapters[name] = adapter

    def build(self, systems: Iterable[System]) -> None:
        """Build the adapters the push systems use, once, and check every push system.

        Raises HubError naming the adapter and the system(s): `adapter_missing` (nothing
        provides the adapter: the message says what to install), `adapter_failed` (its
        entry point, factory or check crashed; the message names the distribution), or
        AdapterMisconfigured (`adapter_misconfigured`, or the check's own code) when a
        system's configuration cannot work with its adapter (its `receive.options` against
        the adapter's options model, its `receive.format` against its capabilities, then
        the adapter's own check).
        """
        push = [s for s in systems if s.receive.mode == "push"]
        users: dict[str, list[str]] = {}
        for system in push:
            users.setdefault(system.receive.adapter, []).append(system.id)
        for name, ids in sorted(users.items()):
            if name in self._adapters:
                continue
            factory = self._factory(name, ids)
            try:
                self._adapters[name] = factory(self.egress)
            except Exception as exc:
                source = self._sources.get(name)
                origin = f" from {source.distribution} {source.version}" \
                    if source is not None and not source.builtin else ""
                raise HubError(f"adapter {name!r}{origin} (used by {_systems(ids)}) could not "
                               f"be built: {exc}", code="adapter_failed") from exc
        for system in push:
            self._check(system)

    def _factory(self, name: str, ids: list[str]) -> AdapterFactory:
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        source = self._sources.get(name)
        if source is None:
            raise HubError(
                f"adapter {name!r} (used by {_systems(ids)}) is not installed: install the "
                f"distribution that provides it in the entry-point group {GROUP} "
                f"(for instance `pip install lienthong-{name}`); "
                f"installed: {', '.join(self.names()) or 'none'}",
                code="adapter_missing",
                detail_vi=f"chưa cài đặt bộ kết nối {name!r} (dùng bởi {', '.join(ids)}): "
                          f"cần cài gói cung cấp nó (ví dụ `pip install lienthong-{name}`)")
        try:
            factory = source.load()
        except HubError as exc:
            exc.detail = f"{exc.detail} (used by {_systems(ids)})"
            exc.args = (exc.detail,)
            raise
        self._factories[name] = factory
        return factory

    def _check(self, system: System) -> None:
        name = system.receive.adapter
        adapter = self._adapters[name]
        try:
            self.check_declared(adapter, system)
        except AdapterMisconfigured as exc:
            raise AdapterMisconfigured(f"adapter {name!r}: {exc.detail}", code=exc.code,
                                       errors=exc.errors, detail_vi=exc.detail_vi) from exc
        if not isinstance(adapter, ConfigurationCheck):
            return
        try:
            adapter.check(system.id, system.receive)
        except HubError as exc:
            detail = exc.detail if system.id in exc.detail else f"system {system.id}: {exc.detail}"
            code = exc.code if isinstance(exc, AdapterMisconfigured) else None
            raise AdapterMisconfigured(f"adapter {name!r}: {detail}", code=code) from exc
        except Exception as exc:
            raise HubError(f"adapter {name!r} crashed checking system {system.id}: {exc!r}",
                           code="adapter_failed") from exc

    @staticmethod
    def check_declared(adapter: Adapter, system: System) -> None:
        """The system against what the adapter declares. Raises AdapterMisconfigured."""
        receive, caps = system.receive, capabilities_of(adapter)
        if not caps.push:
            raise AdapterMisconfigured(
                f"system {system.id}: receive.mode is push, but the adapter does not push "
                f"(it can: {caps.describe()})")
        if receive.format not in caps.forms:
            raise AdapterMisconfigured(
                f"system {system.id}: receive.format {receive.format!r} is not one the "
                f"adapter delivers ({', '.join(caps.forms)})")
        model = options_model_of(adapter)
        if model is not None:
            validate_options(model, system.id, receive)
        elif receive.options and hasattr(adapter, "options"):
            # declared `options = None`: it takes none (an adapter declaring nothing reads
            # receive.options in its own check)
            raise AdapterMisconfigured(
                f"system {system.id}: receive.options is set "
                f"({', '.join(sorted(receive.options))}), but the adapter takes no options")

    def get(self, name: str) -> Adapter:
        """The adapter built at start-up. Raises PermanentError when there is none (a
        delivery made for an adapter the directory no longer uses)."""
        adapter = self._adapters.get(name)
        if adapter is None:
            raise PermanentError(f"no adapter {name!r} was built at start-up: no push system "
                                 "in the directory uses it", code="adapter_missing")
        return adapter

    def names(self) -> list[str]:
        return sorted(set(self._sources) | set(self._factories) | set(self._adapters))

    def sources(self) -> dict[str, Source]:
        """Where each discovered adapter comes from (empty when built with `factories`)."""
        return dict(self._sources)

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()


def capabilities_of_source(source: Source) -> Capabilities:
    """A discovered adapter's capabilities, loading its entry point. Raises HubError
    (`adapter_failed`) when it cannot be loaded."""
    return capabilities_of(source.load())


def _systems(ids: list[str]) -> str:
    return ("system " if len(ids) == 1 else "systems ") + ", ".join(ids)
