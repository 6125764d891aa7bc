"""The adapter contract: one method that hands one delivery to a receiving system.

An adapter raises TransientError when trying again later may work (timeouts, 5xx, broken
connections) and PermanentError (usually DeliveryRejected) when it never will; returning
means the receiver has the message. The hub does the retrying, never the adapter.

An adapter may also check, at start-up, that a system's configuration can work with it
(ConfigurationCheck); a system that cannot is refused before any delivery is attempted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.hops import Hop
from routing.directory import Receive


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
