"""The adapter registry: adapter names in the directory mapped to built instances."""

from __future__ import annotations

from collections.abc import Callable

from adapters.base import Adapter
from core.errors import HubError
from security.egress import Egress

AdapterFactory = Callable[[Egress], Adapter]


def builtin_factories() -> dict[str, AdapterFactory]:
    from adapters.rest_push import RestPushAdapter
    from adapters.soap_push import SoapPushAdapter

    return {"rest": RestPushAdapter, "soap": SoapPushAdapter}


class AdapterRegistry:
    """Builds each configured adapter once; a configured adapter that is missing stops start-up."""

    def __init__(self, egress: Egress, factories: dict[str, AdapterFactory] | None = None) -> None:
        self.egress = egress
        self._factories = dict(factories if factories is not None else builtin_factories())
        self._adapters: dict[str, Adapter] = {}

    def register(self, name: str, adapter: Adapter) -> None:
        self._adapters[name] = adapter

    def require(self, names: set[str]) -> None:
        """Raises HubError naming adapters the directory uses but nothing provides."""
        missing = sorted(n for n in names if n not in self._adapters and n not in self._factories)
        if missing:
            raise HubError(f"adapters used in the directory are not installed: {missing}",
                           code="adapter_missing")

    def get(self, name: str) -> Adapter:
        adapter = self._adapters.get(name)
        if adapter is None:
            factory = self._factories.get(name)
            if factory is None:
                raise HubError(f"no adapter named {name!r}", code="adapter_missing")
            adapter = self._adapters[name] = factory(self.egress)
        return adapter

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._adapters))

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
