"""The SOAP API (SOAP 1.1 and 1.2, document/literal): the router mounted at /soap."""

from __future__ import annotations

from hub.api.soap.endpoint import router

__all__ = ["router"]
