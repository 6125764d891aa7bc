"""Route: check identifiers, expand groups, apply the routing rules and resolve every
recipient now, never later (routing/router.py `explain`, the one path)."""

from __future__ import annotations

from core.errors import ValidationFailed
from core.model import Envelope
from core.settings import Settings
from hub.ingest.submission import Submission
from routing.directory import Directory
from routing.router import Decision, check_identifiers, explain
from routing.rules import RuleSet


def decide(envelope: Envelope, directory: Directory, settings: Settings,
           rules: RuleSet) -> Decision:
    """Where a parsed package would go and why, as the ingest pipeline decides it (and
    `lienthong routes explain` shows it); the refusal, if any, is in the Decision."""
    decision = explain(envelope, directory, rules)
    try:
        check_identifiers(envelope, directory, settings)
    except ValidationFailed as exc:  # told before what explain found
        decision.refusal = exc
    return decision


def route(sub: Submission, directory: Directory, settings: Settings,
          rules: RuleSet | None = None) -> None:
    """Raises ValidationFailed (invalid_organ_id), UnknownRecipient (unknown_recipient,
    recipient_group_empty) or RefusedByRule (a refuse rule's code)."""
    decision = decide(sub.parsed, directory, settings, rules or RuleSet())
    decision.raise_refusal()
    sub.routes = decision.routes
    sub.groups = [g.as_dict() for g in decision.groups]
