"""The router: which organisations and systems a message goes to, decided at submission.

`explain` is the one path from a package to its routes: recipient groups expanded
(routing/groups.py), the routing rules evaluated (routing/rules.py), each recipient
resolved through the directory, or through the system a `via` rule names. The ingest route
step applies its Decision; `lienthong routes explain` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import FieldError, HubError, RefusedByRule, UnknownRecipient, ValidationFailed
from core.model import Envelope, Kind
from core.settings import Settings
from routing.directory import Directory, System, is_standard_organ_id
from routing.groups import Expansion, expand, is_group_address
from routing.rules import Refuse, Rule, RuleSet, Verdict
from schemas.problems import CodedFieldError


@dataclass(frozen=True)
class Route:
    """One recipient organisation and the system that receives for it; `rule` names the
    routing rule that added the recipient (copy_to) or chose the system (via)."""

    recipient: str
    system: System
    rule: str | None = None
    # how the recipient came to be routed: addressed (by the package, or a group in it),
    # copy (a copy_to rule), via (a via rule chose the system)
    how: str = "addressed"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"recipient": self.recipient, "system": self.system.id,
                               "how": self.how}
        if self.rule is not None:
            out["rule"] = self.rule
        return out


@dataclass
class Decision:
    """Where a package goes and why: the groups it named, each rule's verdict, the routes;
    or the refusal that stops it (`refusal`, raised by `raise_refusal`)."""

    groups: list[Expansion] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    refusal: HubError | None = None

    def raise_refusal(self) -> None:
        """Raises the refusal, if there is one (UnknownRecipient, RefusedByRule,
        ValidationFailed)."""
        if self.refusal is not None:
            raise self.refusal


def check_identifiers(envelope: Envelope, directory: Directory, settings: Settings) -> None:
    """Apply the OrganId policy to sender and recipients.

    An id of another form than QĐ 20's was already recorded as a deviation by the codec
    (and refused there under the strict profile); here it is accepted only when the
    directory knows it and the policy is `directory`.

    Raises ValidationFailed (code invalid_organ_id) for an id of a non-standard form that
    the policy does not accept.
    """
    policy = settings.validation.organ_id_policy
    errors: list[FieldError] = []
    for path, code in _addressed(envelope):
        if is_standard_organ_id(code):
            continue
        if path.startswith("/to/") and is_group_address(code):
            continue  # a recipient group, expanded by `explain`
        if policy == "directory" and directory.knows(code):
            continue
        unknown = "; the directory does not know it" if policy == "directory" else ""
        unknown_vi = "; danh bạ không có mã này" if policy == "directory" else ""
        errors.append(CodedFieldError(
            path,
            f"expected an organisation id of the form LLL.KK.JJ.Xnn (QĐ 20/2020), found "
            f"{code!r}{unknown}",
            f"cần mã định danh dạng LLL.KK.JJ.Xnn (QĐ 20/2020), nhận được {code!r}{unknown_vi}",
            None, "organ_id_nonstandard",
        ))
    if errors:
        raise ValidationFailed(
            "organisation codes are not in the QCVN 102 form",
            code="invalid_organ_id",
            errors=errors,
            detail_vi="Mã định danh cơ quan không đúng định dạng",
        )


def _addressed(envelope: Envelope) -> list[tuple[str, str]]:
    """The sender and each distinct recipient, with the path of its first mention."""
    out = [("/from/organId", envelope.sender)]
    if envelope.kind is Kind.DOCUMENT:
        listed = [t.get("organId") for t in envelope.header.get("to", [])]
        for code in envelope.recipients:  # a repeated recipient is routed once
            i = listed.index(code) if code in listed else envelope.recipients.index(code)
            out.append((f"/to/{i}/organId", code))
    else:
        out.extend(("/responseFor/organId", code) for code in envelope.recipients)
    return out


def plan(envelope: Envelope, directory: Directory) -> list[Route]:
    """One route per distinct recipient, after groups, aliases and successions (no rules).

    Raises UnknownRecipient naming every recipient or group the directory does not know or
    that no system receives for.
    """
    decision = explain(envelope, directory)
    decision.raise_refusal()
    return decision.routes


def explain(envelope: Envelope, directory: Directory, rules: RuleSet | None = None
            ) -> Decision:
    """Where the package goes, and why; never raises for a package that cannot be routed:
    the Decision holds the refusal.

    Groups are expanded first (an unknown group is an unknown recipient; a group that
    reaches nobody is refused as `recipient_group_empty`), then every rule is evaluated
    against the expanded recipients, in order. A matched `refuse` rule refuses the package
    (the first one); a matched `via` rule routes its recipients through its system (the
    first such rule for a recipient); `copy_to` rules add recipients, which no rule
    evaluates again. A recipient reached twice (named, and in a group) is routed once.
    """
    rules = rules or RuleSet()
    decision = Decision()
    unknown: list[FieldError] = []
    bad: list[str] = []
    empty: list[FieldError] = []
    addressed: dict[str, str] = {}  # recipient (current code, or as written) -> its path
    for path, code in _addressed(envelope)[1:]:
        if envelope.kind is Kind.DOCUMENT and is_group_address(code):
            group = expand(directory, code, envelope.sender)
            if group is None:
                bad.append(code)
                unknown.append(FieldError(path, f"{code} is not a recipient group",
                                          f"{code} không phải là nhóm nơi nhận"))
                continue
            decision.groups.append(group)
            if not group.members:
                empty.append(_empty(path, group))
            for member in group.members:
                addressed.setdefault(member, path)
        else:
            addressed.setdefault(directory.canonical(code) or code, path)
    decision.verdicts = rules.evaluate(envelope, directory, list(addressed))
    via: dict[str, tuple[System, str]] = {}
    copies: dict[str, str] = {}
    refusing: Verdict | None = None
    for verdict in decision.verdicts:
        if not verdict.matched:
            continue
        rule = verdict.rule
        if rule.refuse is not None and refusing is None:
            refusing = verdict
        elif rule.via is not None:
            system = directory.system(rule.via)
            for code in verdict.recipients:
                if system is not None:
                    via.setdefault(code, (system, rule.name))
        for code in rule.copy_to or ():
            copies.setdefault(directory.canonical(code) or code, rule.name)
    routes: dict[str, Route] = {}
    for code, path in addressed.items():
        if code in via:
            system, rule_name = via[code]
            routes[code] = Route(code, system, rule_name, "via")
            continue
        system = directory.receiver_for(code)  # None for a code it does not know
        if system is None:
            bad.append(code)
            unknown.append(_unroutable(path, code, directory))
        else:
            routes[code] = Route(code, system)
    for code, rule_name in copies.items():
        system = directory.receiver_for(code)
        if code in routes:
            continue
        if system is None:  # RuleSet.check refuses this at start-up
            bad.append(code)
            unknown.append(FieldError(f"/rules/{rule_name}/copy_to",
                                      f"no connected system receives for {code}",
                                      f"không có hệ thống nào nhận văn bản cho {code}"))
        else:
            routes[code] = Route(code, system, rule_name, "copy")
    decision.routes = list(routes.values())
    if refusing is not None and refusing.rule.refuse is not None:
        decision.refusal = _refused(refusing.rule, refusing.rule.refuse, refusing.why)
    elif unknown:
        decision.refusal = UnknownRecipient(
            f"{len(unknown)} recipient(s) cannot be routed: {', '.join(bad)}",
            errors=unknown, detail_vi=f"{len(unknown)} nơi nhận không xác định")
    elif empty:
        decision.refusal = UnknownRecipient(
            f"{len(empty)} recipient group(s) reach no unit that can receive",
            code="recipient_group_empty", errors=empty,
            detail_vi=f"{len(empty)} nhóm nơi nhận không có đơn vị nào nhận được văn bản")
    return decision


def _unroutable(path: str, code: str, directory: Directory) -> FieldError:
    if not directory.knows(code):
        return FieldError(path, f"{code} is not in the directory", f"{code} không có trong danh bạ")
    return FieldError(path, f"no connected system receives for {code}",
                      f"không có hệ thống nào nhận văn bản cho {code}")


def _empty(path: str, group: Expansion) -> FieldError:
    unreachable = (f"; no system receives for {', '.join(group.unreachable)}"
                   if group.unreachable else "")
    unreachable_vi = (f"; không có hệ thống nào nhận cho {', '.join(group.unreachable)}"
                      if group.unreachable else "")
    return FieldError(path, f"group {group.code} ({group.name}) reaches no unit that can "
                            f"receive{unreachable}",
                      f"nhóm {group.code} ({group.name}) không có đơn vị nào nhận được văn "
                      f"bản{unreachable_vi}")


def _refused(rule: Rule, refuse: Refuse, why: str) -> RefusedByRule:
    return RefusedByRule(
        f"{refuse.message_en} (routing rule {rule.name!r})",
        code=refuse.code,
        errors=[FieldError("/", f"refused by routing rule {rule.name!r}: {why}",
                           f"bị từ chối theo quy tắc định tuyến {rule.name!r}")],
        detail_vi=f"{refuse.message_vi} (quy tắc định tuyến {rule.name!r})",
        rule=rule.name,
    )
