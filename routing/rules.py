"""Routing rules: a YAML file of `when` conditions and actions, evaluated in order at
submission (docs/operations.md, "Routing rules").

    rules:
      - name: archive-decisions
        when: {kind: document, document_type: [Quyết định]}
        copy_to: [000.00.98.H57]
      - name: national-platform
        when: {recipient_outside: true}
        via: vdxp

Every condition given must hold. `kind`, `document_type`, `notation`, `priority`, `sender`
and `business_doc_type` look at the package; `recipient_level` and `recipient_outside` at
each recipient (after groups are expanded), and a rule with them matches the recipients
that meet them. Actions: `copy_to` adds recipients (archive copies), `refuse` refuses the
package with a stable code, `via` delivers the matched recipients through a named system.

`load_rules` reads and validates a file; `RuleSet.evaluate` says, rule by rule, whether
it matched and why. routing/router.py (`explain`) applies the verdicts: the ingest route
step and `lienthong routes explain` both go through it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import HubError
from core.model import Envelope, Kind
from routing.directory import Directory, type_key
from routing.groups import UnitLevel, is_group_address, members

_CODE = r"^[a-z][a-z0-9_]{2,63}$"


class RulesError(HubError):
    """The routing rules file cannot be read, or does not hold together with the
    directory; the message names the file and the rule."""

    code = "routing_rules_invalid"
    title = "Routing rules are invalid"


def _listed(value: Any) -> Any:
    """A single value where a list is expected is a list of one."""
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


class Notation(BaseModel):
    """A CodeNotation pattern: a glob (`*-UBND`, case-sensitive, the whole notation) or a
    regular expression (found anywhere in it; anchor it with ^ and $)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    glob: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Notation:
        if (self.glob is None) == (self.regex is None):
            raise ValueError("give either glob or regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from None
        return self

    def matches(self, notation: str) -> bool:
        if self.glob is not None:
            return fnmatch.fnmatchcase(notation, self.glob)
        return re.search(self.regex or "", notation) is not None

    def __str__(self) -> str:
        return f"glob {self.glob!r}" if self.glob is not None else f"regex {self.regex!r}"


class PriorityMin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=0, le=9)


class When(BaseModel):
    """The conditions of a rule; every one given must hold (none: always)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["document", "status"] | None = None
    # names (NĐ 30/2020: Quyết định, Công văn...), compared as routing.directory.type_key does
    document_type: tuple[str, ...] | None = None
    # a glob (a plain string, or {glob: ...}) or {regex: ...} on CodeNotation
    notation: Notation | None = None
    # levels 0 (thường) to 3 (hỏa tốc): a list, or {min: N}
    priority: tuple[int, ...] | PriorityMin | None = None
    # organisation codes or groups (@...) the sender belongs to
    sender: tuple[str, ...] | None = None
    business_doc_type: tuple[Literal["0", "1", "2", "3"], ...] | None = None
    recipient_level: tuple[UnitLevel, ...] | None = None
    # true: a recipient the directory does not know, or of level external
    recipient_outside: bool | None = None

    @field_validator("document_type", "sender", "recipient_level", "business_doc_type",
                     mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        v = _listed(v)
        return [str(x) for x in v] if isinstance(v, list) else v

    @field_validator("priority", mode="before")
    @classmethod
    def _priorities(cls, v: Any) -> Any:
        return _listed(v)

    @field_validator("priority")
    @classmethod
    def _priority_range(cls, v: Any) -> Any:
        if isinstance(v, tuple) and any(not 0 <= p <= 9 for p in v):
            raise ValueError("priorities are single digits, 0 (thường) to 3 (hỏa tốc)")
        return v

    @field_validator("notation", mode="before")
    @classmethod
    def _glob_shorthand(cls, v: Any) -> Any:
        return {"glob": v} if isinstance(v, str) else v

    @property
    def per_recipient(self) -> bool:
        return self.recipient_level is not None or self.recipient_outside is not None


class Refuse(BaseModel):
    """An explicit refusal: the submitter gets this code and these sentences."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(default="refused_by_rule", pattern=_CODE)
    message_en: str = Field(min_length=1, max_length=500)
    message_vi: str = Field(min_length=1, max_length=500)


class Rule(BaseModel):
    """One rule: a name, its conditions, and exactly one action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    when: When = Field(default_factory=When)
    copy_to: tuple[str, ...] | None = None
    refuse: Refuse | None = None
    via: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("copy_to", mode="before")
    @classmethod
    def _copies(cls, v: Any) -> Any:
        return _listed(v)

    @model_validator(mode="after")
    def _one_action(self) -> Rule:
        given = [a for a in ("copy_to", "refuse", "via") if getattr(self, a)]
        if len(given) != 1:
            raise ValueError("a rule takes exactly one action: copy_to, refuse or via"
                             + (f" (found {', '.join(given)})" if given else ""))
        return self

    @property
    def action(self) -> str:
        return "copy_to" if self.copy_to else "refuse" if self.refuse else "via"


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule {rule.name!r} is listed twice")
            seen.add(rule.name)
        return self


@dataclass(frozen=True)
class Check:
    """One condition of a rule against a package: held or not, and in what words."""

    condition: str
    held: bool
    why: str


@dataclass(frozen=True)
class Verdict:
    """A rule against a package: matched or not, each condition's check, and the
    recipients it matched (every recipient when it has no recipient condition)."""

    rule: Rule
    matched: bool
    checks: tuple[Check, ...]
    recipients: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        if not self.checks:
            return "no conditions: matches every package"
        shown = self.checks if self.matched else [c for c in self.checks if not c.held]
        return "; ".join(c.why for c in shown)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.name, "action": self.rule.action, "matched": self.matched,
                "why": self.why, "recipients": list(self.recipients),
                "checks": [{"condition": c.condition, "held": c.held, "why": c.why}
                           for c in self.checks]}


@dataclass(frozen=True)
class RuleSet:
    """The loaded rules, in order; empty when no rules file is configured."""

    rules: tuple[Rule, ...] = ()
    source: Path | None = field(default=None, compare=False)

    def check(self, directory: Directory) -> None:
        """Raises RulesError, naming the rule, when an archive copy goes to a unit the
        directory does not know or no system receives for, a `via` system is not in the
        directory, or a sender group names no group."""
        problems: list[str] = []
        for rule in self.rules:
            for code in rule.copy_to or ():
                if not directory.knows(code):
                    problems.append(f"rule {rule.name!r}: copy_to {code} is not in the directory")
                elif directory.receiver_for(code) is None:
                    problems.append(f"rule {rule.name!r}: no system receives for copy_to {code}")
            if rule.via is not None and directory.system(rule.via) is None:
                problems.append(f"rule {rule.name!r}: via system {rule.via} is not in the "
                                "directory")
            for code in rule.when.sender or ():
                if is_group_address(code) and members(directory, code) is None:
                    problems.append(f"rule {rule.name!r}: sender group {code} is not a group")
                elif not is_group_address(code) and not directory.knows(code):
                    problems.append(f"rule {rule.name!r}: sender {code} is not in the "
                                    "directory")
        if problems:
            where = f"routing rules {self.source}" if self.source else "routing rules"
            raise RulesError(f"{where} do not fit the directory: " + "; ".join(problems))

    def evaluate(self, envelope: Envelope, directory: Directory,
                 recipients: Sequence[str]) -> list[Verdict]:
        """Each rule against the package addressed to `recipients` (groups expanded)."""
        return [_verdict(rule, envelope, directory, recipients) for rule in self.rules]


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file (no directory needed; see RuleSet.check).

    Raises RulesError naming the file, and the rule and field of each mistake.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read routing rules {path}: {exc}") from exc
    return load_rules_bytes(raw, path)


def load_rules_bytes(raw: bytes, path: Path) -> RuleSet:
    """Validate the bytes of a rules file read from `path` (named in errors).

    Raises RulesError naming the file, and the rule and field of each mistake.
    """
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read routing rules {path}: {exc}") from exc
    data = {} if data is None else data
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        told = "; ".join(_told(e, data) for e in exc.errors())
        raise RulesError(f"routing rules {path} are invalid: {told}") from exc
    return RuleSet(tuple(parsed.rules), path)


def configured_rules(path: Path | None, directory: Directory) -> RuleSet:
    """The rules of the file the settings name (`routing.rules_file`; None: no rules),
    checked against the directory. Raises RulesError naming the file and the rule."""
    if path is None:
        return RuleSet()
    rules = load_rules(path)
    rules.check(directory)
    return rules


def _told(error: Any, data: Any) -> str:
    """`rule 2 ('name'), when.priority: message` for one pydantic error."""
    loc = list(error.get("loc", ()))
    where = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        index = loc[1]
        raw = data.get("rules") if isinstance(data, dict) else None
        name = raw[index].get("name") if isinstance(raw, list) and index < len(raw) \
            and isinstance(raw[index], dict) else None
        where = f"rule {index + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    field_path = ".".join(str(p) for p in loc if not str(p).startswith(("function-", "tuple[")))
    parts = [p for p in (where, field_path) if p]
    return f"{', '.join(parts) or 'the file'}: {error.get('msg', 'invalid')}"


# -- matching -----------------------------------------------------------------------------
def _document_type(envelope: Envelope) -> str:
    doc_type = envelope.header.get("documentType") or {}
    return str(doc_type.get("typeName") or "") if isinstance(doc_type, dict) else ""


def _notation(envelope: Envelope) -> str:
    code = envelope.header.get("code") or {}
    return str(code.get("codeNotation") or "") if isinstance(code, dict) else ""


def _package_checks(when: When, envelope: Envelope, directory: Directory) -> list[Check]:
    checks: list[Check] = []
    if when.kind is not None:
        checks.append(Check("kind", envelope.kind.value == when.kind,
                            f"kind is {envelope.kind.value}" + (
                                "" if envelope.kind.value == when.kind
                                else f", not {when.kind}")))
    if when.document_type is not None:
        name = _document_type(envelope)
        held = bool(name) and type_key(name) in {type_key(t) for t in when.document_type}
        why = (f"document type {name!r} is {'' if held else 'not '}one of "
               f"{', '.join(when.document_type)}")
        if envelope.kind is not Kind.DOCUMENT:
            why = "a status has no document type"
        checks.append(Check("document_type", held, why))
    if when.notation is not None:
        notation = _notation(envelope)
        held = envelope.kind is Kind.DOCUMENT and when.notation.matches(notation)
        checks.append(Check("notation", held,
                            f"notation {notation!r} " + ("matches " if held else
                                                          "does not match ")
                            + str(when.notation)))
    if when.priority is not None:
        p = envelope.priority
        if isinstance(when.priority, PriorityMin):
            held = p >= when.priority.min
            why = f"priority {p} is " + ("at least " if held else "below ") + str(
                when.priority.min)
        else:
            held = p in when.priority
            why = f"priority {p} is " + ("" if held else "not ") + "one of " + ", ".join(
                str(x) for x in when.priority)
        checks.append(Check("priority", held, why))
    if when.sender is not None:
        sender = directory.canonical(envelope.sender) or envelope.sender
        held_by = next((c for c in when.sender if _sender_in(directory, sender, c)), None)
        checks.append(Check("sender", held_by is not None,
                            f"sender {sender} is " + (f"in {held_by}" if held_by else
                                                      "not in " + ", ".join(when.sender))))
    if when.business_doc_type is not None:
        found = envelope.business_doc_type
        held = envelope.kind is Kind.DOCUMENT and found in when.business_doc_type
        checks.append(Check("business_doc_type", held,
                            f"BussinessDocType {found} is " + ("" if held else "not ")
                            + "one of " + ", ".join(when.business_doc_type)))
    return checks


def _sender_in(directory: Directory, sender: str, code: str) -> bool:
    if is_group_address(code):
        found = members(directory, code)
        return found is not None and sender in found[2]
    return (directory.canonical(code) or code) == sender


def outside(directory: Directory, code: str) -> bool:
    """A recipient outside the province: not in the directory, or of level external."""
    org = directory.organization(code)
    return org is None or org.level.value == "external"


def _recipient_matches(when: When, directory: Directory, code: str) -> bool:
    if when.recipient_level is not None:
        org = directory.organization(code)
        if org is None or org.level.value not in when.recipient_level:
            return False
    return when.recipient_outside is None or outside(directory, code) == when.recipient_outside


def _recipient_check(when: When, chosen: list[str], total: int) -> Check:
    wanted = []
    if when.recipient_level is not None:
        wanted.append("of level " + " or ".join(when.recipient_level))
    if when.recipient_outside is not None:
        wanted.append("outside the province" if when.recipient_outside else
                      "inside the province")
    described = " and ".join(wanted)
    if not chosen:
        return Check("recipients", False, f"no recipient is {described}")
    return Check("recipients", True,
                 f"{len(chosen)} of {total} recipient(s) {described}: {', '.join(chosen)}")


def _verdict(rule: Rule, envelope: Envelope, directory: Directory,
             recipients: Sequence[str]) -> Verdict:
    checks = _package_checks(rule.when, envelope, directory)
    chosen = list(recipients)
    if rule.when.per_recipient:
        chosen = [c for c in recipients if _recipient_matches(rule.when, directory, c)]
        checks.append(_recipient_check(rule.when, chosen, len(recipients)))
    matched = all(c.held for c in checks)
    return Verdict(rule, matched, tuple(checks), tuple(chosen) if matched else ())
