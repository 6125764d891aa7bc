"""Route: check identifiers and resolve every recipient now, never later."""

from __future__ import annotations

from core.settings import Settings
from hub.ingest.submission import Submission
from routing.directory import Directory
from routing.router import check_identifiers, plan


def route(sub: Submission, directory: Directory, settings: Settings) -> None:
    """Raises ValidationFailed (invalid_organ_id) or UnknownRecipient."""
    check_identifiers(sub.parsed, directory, settings)
    sub.routes = plan(sub.parsed, directory)
