"""The adapter registry: adapter names in the directory mapped to instances built at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from adapters.base import Adapter, ConfigurationCheck
from core.errors import AdapterMisconfigured, HubError, PermanentError
from routing.directory import System
from security.egress import Egress

AdapterFactory = Callable[[Egress], Adapter]


def builtin_factories() -> dict[str, AdapterFactory]:
    from adapters.email_notify import EmailNotifyAdapter
    from adapters.file_drop import FileDropAdapter
    from adapters.hub_forward import HubForwardAdapter
    from adapters.rest_push import RestPushAdapter
    from adapters.soap_push import SoapPushAdapter
    from adapters.vdxp import VdxpAdapter

    return {"rest": RestPushAdapter, "soap": SoapPushAdapter, "vdxp": VdxpAdapter,
            "file": FileDropAdapter, "hub": HubForwardAdapter, "email": EmailNotifyAdapter}


class AdapterRegistry:
    """Builds every adapter the directory uses once, at start-up, and checks each push system
    against its adapter; a delivery only looks its adapter up.

    A broken adapter or configuration thus stops the hub from starting, instead of showing up
    later as deliveries that fail.
    """

    def __init__(self, egress: Egress, factories: dict[str, AdapterFactory] | None = None) -> None:
        self.egress = egress
        self._factories = dict(factories if factories is not None else builtin_factories())
        self._adapters: dict[str, Adapter] = {}

    def register(self, name: str, adapter: Adapter) -> None:
        """Use an adapter built elsewhere under `name` (it is still checked by `build`)."""
        self._adapters[name] = adapter

    def build(self, systems: Iterable[System]) -> None:
        """Build the adapters the push systems use, once, and check every push system.

        Raises HubError naming the adapter and the system(s): `adapter_missing` (nothing
        provides the adapter), `adapter_failed` (its factory or its check crashed), or
        AdapterMisconfigured (`adapter_misconfigured`, or the check's own code) when a
        system's configuration cannot work with its adapter.
        """
        push = [s for s in systems if s.receive.mode == "push"]
        users: dict[str, list[str]] = {}
        for system in push:
            users.setdefault(system.receive.adapter, []).append(system.id)
        for name, ids in sorted(users.items()):
            if name in self._adapters:
                continue
            factory = self._factories.get(name)
            if factory is None:
                raise HubError(f"adapter {name!r} (used by {_systems(ids)}) is not installed; "
                               f"installed: {', '.join(self.names()) or 'none'}",
                               code="adapter_missing")
            try:
                self._adapters[name] = factory(self.egress)
            except Exception as exc:
                raise HubError(f"adapter {name!r} (used by {_systems(ids)}) could not be "
                               f"built: {exc}", code="adapter_failed") from exc
        for system in push:
            self._check(system)

    def _check(self, system: System) -> None:
        name = system.receive.adapter
        adapter = self._adapters[name]
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

    def get(self, name: str) -> Adapter:
        """The adapter built at start-up. Raises PermanentError when there is none (a
        delivery made for an adapter the directory no longer uses)."""
        adapter = self._adapters.get(name)
        if adapter is None:
            raise PermanentError(f"no adapter {name!r} was built at start-up: no push system "
                                 "in the directory uses it", code="adapter_missing")
        return adapter

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._adapters))

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()


def _systems(ids: list[str]) -> str:
    return ("system " if len(ids) == 1 else "systems ") + ", ".join(ids)
