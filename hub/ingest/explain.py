"""Where a package file would go, and why, without a running hub (`lienthong routes explain`):
parsed and authorised as the ingest pipeline would, then routed by the same decision
(hub/ingest/route.py `decide`: groups, routing rules, the directory). Nothing is sent and
nothing is stored; de-duplication, which needs the store, is not looked at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import FieldError, Forbidden, HubError
from core.model import Kind
from core.settings import Settings
from hub.ingest.authorise import authorise
from hub.ingest.route import decide
from hub.ingest.submission import Submission
from routing.directory import Directory, System
from routing.router import Decision
from routing.rules import RuleSet
from schemas.codec import CodecRegistry
from schemas.offline import form_of_bytes, kind_of_bytes


@dataclass
class Explanation:
    """A package file, the system it is sent as, and the routing decision, or the refusal
    that stops it before routing (parsing, validation, authorisation)."""

    path: Path
    system: System | None = None
    kind: Kind | None = None
    decision: Decision = field(default_factory=Decision)
    refusal: HubError | None = None

    @property
    def refused(self) -> HubError | None:
        return self.refusal or self.decision.refusal

    def as_dict(self) -> dict[str, Any]:
        refused = self.refused
        return {
            "file": str(self.path),
            "system": self.system.id if self.system else None,
            "kind": self.kind.value if self.kind else None,
            "accepted": refused is None,
            "groups": [g.as_dict() for g in self.decision.groups],
            "rules": [v.as_dict() for v in self.decision.verdicts],
            "routes": [{**r.as_dict(), "mode": r.system.receive.mode}
                       for r in self.decision.routes] if refused is None else [],
            "refusal": None if refused is None else {
                "code": refused.code, "status": refused.http_status, "detail": refused.detail,
                "detail_vi": refused.detail_vi, "errors": [e.as_dict() for e in refused.errors]},
        }


def explain_file(path: Path, settings: Settings, directory: Directory, rules: RuleSet,
                 system_id: str | None = None) -> Explanation:
    """The Explanation of the package at `path`, sent as `system_id` (by default the system
    serving its sender). Never raises for a package the hub would refuse: the refusal is in
    the Explanation. Raises OSError when the file cannot be read, and HubError (code
    unknown_system) when `system_id` is not in the directory."""
    raw = path.read_bytes()
    out = Explanation(path)
    chosen = directory.system(system_id) if system_id else None
    if system_id and chosen is None:
        raise HubError(f"system {system_id} is not in the directory", code="unknown_system")
    try:
        form = form_of_bytes(raw)
        out.kind = kind = kind_of_bytes(raw, form, settings)
        codecs = CodecRegistry(settings)
        codec = codecs.for_form(form)
        default = settings.validation.profile
        # the sending system's profile, as the hub checks it; found from the sender when
        # not given, which takes a first reading under the default profile
        envelope = codec.read(raw, kind, chosen.profile(default) if chosen else default)
        chosen = chosen or directory.receiver_for(envelope.sender)
        if chosen is not None and chosen.profile(default) != default and system_id is None:
            envelope = codec.read(raw, kind, chosen.profile(default))
        out.system = chosen
        if chosen is None:
            raise Forbidden(
                f"no system in the directory serves sender {envelope.sender}",
                code="sender_not_served",
                errors=[FieldError("/from/organId", f"no system serves {envelope.sender}",
                                   f"không hệ thống nào gửi thay cho {envelope.sender}")],
                detail_vi=f"Không hệ thống nào được gửi thay cho {envelope.sender}")
        sub = Submission(system=chosen, raw=raw, media_type=form.media_type, kind=kind,
                         channel="rest", envelope=envelope)
        authorise(sub, directory)
    except HubError as exc:
        out.refusal = exc
        return out
    out.decision = decide(envelope, directory, settings, rules)
    return out
