"""The adapter contract: one method that hands one delivery to a receiving system.

An adapter raises TransientError when trying again later may work (timeouts, 5xx, broken
connections) and PermanentError (usually DeliveryRejected) when it never will; returning
means the receiver has the message. The hub does the retrying, never the adapter.

An adapter class declares, as class attributes read before it is built:
    name          the name a system's `receive.adapter` uses
    options       a pydantic model of its own settings, validated at start-up from each
                  system's `receive.options` (None: the adapter takes none)
    capabilities  Capabilities: push, poll, the forms it delivers
An adapter may also check, at start-up, that a system's configuration can work with it
(ConfigurationCheck); a system that cannot is refused before any delivery is attempted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from core.errors import AdapterMisconfigured, FieldError
from core.hops import Hop
from routing.directory import Receive

FORMS = ("json", "edxml")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do: push deliveries, poll a platform for what it has for the
    hub, and the forms (`receive.format`) it delivers."""

    push: bool = True
    poll: bool = False
    forms: tuple[str, ...] = FORMS

    def describe(self) -> str:
        ways = [w for w, on in (("push", self.push), ("poll", self.poll)) if on]
        return f"{'+'.join(ways) or 'none'} ({', '.join(self.forms)})"


def capabilities_of(adapter: object) -> Capabilities:
    """An adapter's (or its class's) declared capabilities; push of both forms if none."""
    found = getattr(adapter, "capabilities", None)
    return found if isinstance(found, Capabilities) else Capabilities()


def options_model_of(adapter: object) -> type[BaseModel] | None:
    """An adapter's (or its class's) options model, or None when it takes no options."""
    found = getattr(adapter, "options", None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def validate_options(model: type[M], system_id: str, receive: Receive) -> M:
    """A system's `receive.options` as the adapter's model.

    Raises AdapterMisconfigured naming the system and every wrong field
    (`receive.options.host`), with a FieldError per field.
    """
    try:
        return model.model_validate(receive.options)
    except ValidationError as exc:
        errors = [FieldError("receive.options." + ".".join(str(p) for p in e["loc"]),
                             e["msg"]) for e in exc.errors()]
        listed = "; ".join(f"{e.path}: {e.message}" for e in errors)
        raise AdapterMisconfigured(
            f"system {system_id}: {listed}", errors=errors,
            detail_vi=f"hệ thống {system_id}: cấu hình receive.options không hợp lệ: "
                      f"{listed}") from exc


def delivery_options(model: type[M], delivery: OutboundDelivery) -> M:
    """The delivery's system's options (already checked at start-up); raises what
    validate_options raises."""
    return validate_options(model, delivery.system_id, delivery.endpoint)


@dataclass(frozen=True)
class OutboundDelivery:
    """Everything an adapter needs for one delivery, payload already in the wanted form."""

    message_id: str
    delivery_id: str
    kind: str  # document | status
    sender: str
    recipient: str
    system_id: str
    document_id: str | None
    attempt: int
    payload: bytes
    media_type: str
    endpoint: Receive
    headers: dict[str, str] = field(default_factory=dict)
    # the hubs the package passed through, this one last (core/hops.py): what a hub-to-hub
    # adapter hands on to the next hub
    hops: tuple[Hop, ...] = ()
    # a time-limited link to the package (core/links.py), for a unit told by e-mail
    link: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What the receiver said, for the attempt log (never the payload)."""

    detail: str = ""


class Adapter(Protocol):
    """A way of reaching a receiving system."""

    name: str

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """Hand over one delivery. Raises TransientError or PermanentError."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ConfigurationCheck(Protocol):
    """The optional start-up hook of an adapter: can this system's `receive` work at all?"""

    def check(self, system_id: str, receive: Receive) -> None:
        """Look at the configuration only (no network). Raises AdapterMisconfigured whose
        message names the system and the field (`receive.url`, `receive.soap.wsdl`...)."""
        ...


# -- inbound polling ------------------------------------------------------------------------
# Some systems cannot push to the hub (the national platform, a folder an old system writes):
# the hub polls them through their adapter and feeds what it fetches into the ingest
# pipeline as if the system had sent it (hub/polling.py).
@dataclass(frozen=True)
class Inbound:
    """One item waiting at a polled system: its reference there, and its kind when known."""

    ref: str
    kind: str = "document"  # document | status
    # what the remote side said about it (sender, type...), for logs; never the payload
    note: str = ""


@dataclass(frozen=True)
class Fetched:
    """An item's package, fetched: the exact bytes and their media type."""

    ref: str
    kind: str  # document | status
    payload: bytes
    media_type: str  # application/xml (edXML) | application/json


@runtime_checkable
class Poller(Protocol):
    """The optional polling capability of an adapter.

    The hub lists (`poll`), fetches (`fetch`) and, once the item is stored or refused,
    acknowledges (`acknowledge`); an item not yet acknowledged is listed again by the next
    poll, so a hub dying midway loses nothing (the second fetch is a duplicate).
    Each raises TransientError when trying again later may work and PermanentError when
    the item (or the configuration) never will.
    """

    def poll(self, system_id: str, receive: Receive) -> list[Inbound]:
        """What waits at the system now, oldest first."""
        ...

    def fetch(self, system_id: str, receive: Receive, item: Inbound) -> Fetched:
        """One item's package."""
        ...

    def acknowledge(self, system_id: str, receive: Receive, item: Inbound, result: str,
                    reason: str = "") -> None:
        """Tell the system the hub took the item (`done`) or refused it (`fail`, why)."""
        ...
