"""Routing rules: the file is validated naming the rule and field; each condition matches
what it says and says why; the actions shape the routing decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import RefusedByRule, UnknownRecipient
from core.model import Envelope, Form, Kind
from routing.directory import Directory
from routing.router import explain
from routing.rules import RulesError, RuleSet, load_rules

PROVINCE, HOME, DISTRICT, COMMUNE = ("000.00.00.H57", "000.00.02.H57", "000.00.21.H57",
                                     "000.01.21.H57")
ARCHIVE, OUTSIDE, FOREIGN = "000.00.98.H57", "000.00.00.H41", "000.00.00.G22"


def directory() -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": PROVINCE, "name": "Tỉnh", "level": "province"},
            {"code": HOME, "name": "Sở Nội vụ", "level": "department", "parent": PROVINCE},
            {"code": DISTRICT, "name": "Huyện", "level": "district", "parent": PROVINCE},
            {"code": COMMUNE, "name": "Xã", "level": "commune", "parent": DISTRICT},
            {"code": ARCHIVE, "name": "Lưu trữ", "level": "department", "parent": PROVINCE},
            {"code": OUTSIDE, "name": "UBND tỉnh Nghệ An", "level": "external"},
        ],
        "systems": [
            {"id": "tinh", "organizations": [PROVINCE]},
            {"id": "so", "organizations": [HOME]},
            {"id": "huyen", "organizations": [DISTRICT, COMMUNE]},
            {"id": "archive", "organizations": [ARCHIVE]},
            {"id": "vdxp", "organizations": []},
        ],
    })


def envelope(*to: str, sender: str = PROVINCE, type_name: str = "Quyết định",
             notation: str = "QĐ-UBND", priority: int = 0, kind: Kind = Kind.DOCUMENT,
             business: str = "0") -> Envelope:
    header = {"documentType": {"type": "2", "typeName": type_name},
              "code": {"codeNumber": "15", "codeNotation": notation}}
    return Envelope(kind=kind, form=Form.JSON, sender=sender, recipients=tuple(to),
                    priority=priority, business_doc_type=business,
                    header=header if kind is Kind.DOCUMENT else {})


def rules(*items: dict[str, Any], tmp: Path | None = None) -> RuleSet:
    """A RuleSet through the file loader, as the hub reads it."""
    path = (tmp or Path("/nonexistent")) / "rules.yaml"
    if tmp is None:
        from routing.rules import RulesFile

        return RuleSet(tuple(RulesFile.model_validate({"rules": list(items)}).rules))
    path.write_text(yaml.safe_dump({"rules": list(items)}, allow_unicode=True), "utf-8")
    return load_rules(path)


def verdict(rule: dict[str, Any], env: Envelope) -> tuple[bool, str, tuple[str, ...]]:
    [v] = rules({"name": "r", "copy_to": [ARCHIVE], **rule}).evaluate(
        env, directory(), list(env.recipients))
    return v.matched, v.why, v.recipients


# -- the file -----------------------------------------------------------------------------
def test_a_good_file_loads_in_order(tmp_path: Path) -> None:
    loaded = rules({"name": "archive", "when": {"document_type": "Quyết định"},
                    "copy_to": ARCHIVE},
                   {"name": "outside", "when": {"recipient_outside": True}, "via": "vdxp"},
                   {"name": "no-secrets", "when": {"notation": "*-MAT"},
                    "refuse": {"message_en": "not here", "message_vi": "không ở đây"}},
                   tmp=tmp_path)
    assert [r.name for r in loaded.rules] == ["archive", "outside", "no-secrets"]
    assert [r.action for r in loaded.rules] == ["copy_to", "via", "refuse"]
    assert loaded.rules[2].refuse is not None and loaded.rules[2].refuse.code == "refused_by_rule"
    loaded.check(directory())


@pytest.mark.parametrize(("rule", "says"), [
    ({"name": "a", "when": {"priority": {"min": 12}}, "copy_to": [ARCHIVE]},
     "rule 1 ('a'), when.priority"),
    ({"name": "a", "when": {"colour": "red"}, "copy_to": [ARCHIVE]}, "rule 1 ('a'), when.colour"),
    ({"name": "a", "copy_to": [ARCHIVE], "via": "vdxp"}, "exactly one action"),
    ({"name": "a"}, "exactly one action"),
    ({"name": "a", "when": {"notation": {"regex": "(unclosed"}}, "copy_to": [ARCHIVE]},
     "does not compile"),
    ({"name": "a", "when": {"recipient_level": ["county"]}, "copy_to": [ARCHIVE]},
     "when.recipient_level"),
    ({"name": "a", "refuse": {"code": "Bad Code", "message_en": "x", "message_vi": "y"}},
     "refuse.code"),
    ({"name": "a", "refuse": {"message_en": "x"}}, "refuse.message_vi"),
])
def test_a_bad_rule_is_named_with_its_field(tmp_path: Path, rule: dict[str, Any],
                                            says: str) -> None:
    ok = {"name": "first", "copy_to": [ARCHIVE]}
    with pytest.raises(RulesError) as info:
        rules(ok, rule, tmp=tmp_path)
    assert str(tmp_path / "rules.yaml") in info.value.detail
    assert says.replace("rule 1", "rule 2") in info.value.detail


def test_duplicate_names_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="listed twice"):
        rules({"name": "a", "copy_to": [ARCHIVE]}, {"name": "a", "via": "vdxp"}, tmp=tmp_path)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("rules: [", encoding="utf-8")
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "broken.yaml")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert load_rules(tmp_path / "empty.yaml").rules == ()


@pytest.mark.parametrize(("rule", "says"), [
    ({"name": "a", "copy_to": ["000.00.77.H57"]}, "copy_to 000.00.77.H57 is not in the directory"),
    ({"name": "a", "copy_to": [OUTSIDE]}, f"no system receives for copy_to {OUTSIDE}"),
    ({"name": "a", "via": "nowhere"}, "via system nowhere is not in the directory"),
    ({"name": "a", "when": {"sender": ["@nogroup"]}, "via": "vdxp"},
     "sender group @nogroup is not a group"),
])
def test_rules_that_do_not_fit_the_directory_are_named(rule: dict[str, Any], says: str) -> None:
    with pytest.raises(RulesError) as info:
        rules(rule).check(directory())
    assert f"rule 'a': {says}" in info.value.detail


# -- the conditions -----------------------------------------------------------------------
def test_no_condition_matches_everything() -> None:
    assert verdict({}, envelope(HOME)) == (True, "no conditions: matches every package",
                                           (HOME,))


def test_kind() -> None:
    assert verdict({"when": {"kind": "status"}}, envelope(HOME))[:2] == (
        False, "kind is document, not status")
    assert verdict({"when": {"kind": "document"}}, envelope(HOME))[0]


def test_document_type_by_name_whatever_the_case_and_spacing() -> None:
    matched, why, _ = verdict({"when": {"document_type": ["quyết  ĐỊNH", "Công văn"]}},
                              envelope(HOME))
    assert matched and why == "document type 'Quyết định' is one of quyết  ĐỊNH, Công văn"
    assert verdict({"when": {"document_type": "Công văn"}}, envelope(HOME))[:2] == (
        False, "document type 'Quyết định' is not one of Công văn")
    status = envelope(HOME, kind=Kind.STATUS)
    assert verdict({"when": {"document_type": "Công văn"}}, status)[:2] == (
        False, "a status has no document type")


def test_notation_glob_and_regex() -> None:
    env = envelope(HOME, notation="QĐ-UBND")
    assert verdict({"when": {"notation": "*-UBND"}}, env)[:2] == (
        True, "notation 'QĐ-UBND' matches glob '*-UBND'")
    assert not verdict({"when": {"notation": "*-ubnd"}}, env)[0]  # globs are case-sensitive
    assert verdict({"when": {"notation": {"regex": "^QĐ-"}}}, env)[0]
    assert verdict({"when": {"notation": {"regex": "^CV-"}}}, env)[:2] == (
        False, "notation 'QĐ-UBND' does not match regex '^CV-'")


def test_priority_list_or_minimum() -> None:
    urgent = envelope(HOME, priority=3)
    assert verdict({"when": {"priority": {"min": 2}}}, urgent)[:2] == (
        True, "priority 3 is at least 2")
    assert verdict({"when": {"priority": {"min": 2}}}, envelope(HOME))[:2] == (
        False, "priority 0 is below 2")
    assert verdict({"when": {"priority": [1, 3]}}, urgent)[0]
    assert not verdict({"when": {"priority": 1}}, urgent)[0]


def test_sender_by_code_alias_or_group() -> None:
    assert verdict({"when": {"sender": [PROVINCE]}}, envelope(HOME))[:2] == (
        True, f"sender {PROVINCE} is in {PROVINCE}")
    assert verdict({"when": {"sender": "@districts"}}, envelope(HOME, sender=DISTRICT))[0]
    assert verdict({"when": {"sender": "@districts"}}, envelope(HOME))[:2] == (
        False, f"sender {PROVINCE} is not in @districts")


def test_business_doc_type() -> None:
    assert verdict({"when": {"business_doc_type": [2, 3]}}, envelope(HOME, business="2"))[0]
    assert verdict({"when": {"business_doc_type": "1"}}, envelope(HOME))[:2] == (
        False, "BussinessDocType 0 is not one of 1")


def test_recipient_conditions_pick_the_recipients_they_match() -> None:
    env = envelope(HOME, DISTRICT, COMMUNE, FOREIGN, OUTSIDE)
    assert verdict({"when": {"recipient_level": ["commune", "district"]}}, env) == (
        True, f"2 of 5 recipient(s) of level commune or district: {DISTRICT}, {COMMUNE}",
        (DISTRICT, COMMUNE))
    # not in the directory, or of level external
    assert verdict({"when": {"recipient_outside": True}}, env)[2] == (FOREIGN, OUTSIDE)
    assert verdict({"when": {"recipient_outside": False}}, env)[2] == (HOME, DISTRICT, COMMUNE)
    assert verdict({"when": {"recipient_level": "commune"}}, envelope(HOME))[:2] == (
        False, "no recipient is of level commune")


def test_every_condition_must_hold_and_the_failing_ones_are_told() -> None:
    matched, why, recipients = verdict(
        {"when": {"kind": "document", "priority": {"min": 1}, "notation": "*-SNV"}},
        envelope(HOME))
    assert not matched and recipients == ()
    assert why == "notation 'QĐ-UBND' does not match glob '*-SNV'; priority 0 is below 1"


# -- the actions, in the routing decision --------------------------------------------------
def test_copy_to_adds_the_archive_once_recorded_as_added_by_the_rule() -> None:
    ruleset = rules({"name": "archive", "when": {"document_type": "Quyết định"},
                     "copy_to": [ARCHIVE, HOME]},
                    {"name": "archive-again", "copy_to": [ARCHIVE]})
    decision = explain(envelope(HOME, DISTRICT), directory(), ruleset)
    assert decision.refusal is None
    assert [(r.recipient, r.system.id, r.rule, r.how) for r in decision.routes] == [
        (HOME, "so", None, "addressed"), (DISTRICT, "huyen", None, "addressed"),
        (ARCHIVE, "archive", "archive", "copy")]
    # the copy is not added when the rule does not match
    decision = explain(envelope(HOME, type_name="Công văn"), directory(), ruleset)
    assert [r.rule for r in decision.routes] == [None, "archive-again"]


def test_via_routes_outside_recipients_through_the_named_system() -> None:
    ruleset = rules({"name": "national", "when": {"recipient_outside": True}, "via": "vdxp"})
    decision = explain(envelope(HOME, FOREIGN, OUTSIDE), directory(), ruleset)
    assert decision.refusal is None
    assert [(r.recipient, r.system.id, r.rule, r.how) for r in decision.routes] == [
        (HOME, "so", None, "addressed"), (FOREIGN, "vdxp", "national", "via"),
        (OUTSIDE, "vdxp", "national", "via")]
    # without the rule, both are refused as unknown / unreachable
    refused = explain(envelope(HOME, FOREIGN, OUTSIDE), directory()).refusal
    assert isinstance(refused, UnknownRecipient)
    assert [e.path for e in refused.errors] == ["/to/1/organId", "/to/2/organId"]


def test_the_first_via_rule_for_a_recipient_wins() -> None:
    ruleset = rules({"name": "first", "when": {"recipient_outside": True}, "via": "vdxp"},
                    {"name": "second", "via": "archive"})
    decision = explain(envelope(FOREIGN, HOME), directory(), ruleset)
    assert [(r.recipient, r.system.id, r.rule) for r in decision.routes] == [
        (FOREIGN, "vdxp", "first"), (HOME, "archive", "second")]


def test_refuse_names_the_rule_in_both_languages_and_wins_over_unknowns() -> None:
    ruleset = rules({"name": "copy", "copy_to": [ARCHIVE]},
                    {"name": "no-urgent-to-communes",
                     "when": {"priority": {"min": 2}, "recipient_level": "commune"},
                     "refuse": {"code": "urgent_to_commune", "message_en": "Urgent documents "
                                "go to the district", "message_vi": "Văn bản khẩn gửi huyện"}})
    decision = explain(envelope(COMMUNE, "000.00.77.H57", priority=3), directory(), ruleset)
    refusal = decision.refusal
    assert isinstance(refusal, RefusedByRule)
    assert (refusal.code, refusal.http_status, refusal.rule) == (
        "urgent_to_commune", 422, "no-urgent-to-communes")
    assert "no-urgent-to-communes" in refusal.detail
    assert "no-urgent-to-communes" in refusal.detail_vi
    assert refusal.detail.startswith("Urgent documents go to the district")
    assert refusal.detail_vi.startswith("Văn bản khẩn gửi huyện")
    # not urgent: the rule does not match, and the unknown recipient is what is refused
    decision = explain(envelope(COMMUNE, "000.00.77.H57"), directory(), ruleset)
    assert isinstance(decision.refusal, UnknownRecipient)
    assert [v.matched for v in decision.verdicts] == [True, False]


def test_recipient_conditions_see_the_units_a_group_reached() -> None:
    ruleset = rules({"name": "communes-archive", "when": {"recipient_level": "commune"},
                     "copy_to": [ARCHIVE]})
    decision = explain(envelope("@all"), directory(), ruleset)
    [v] = decision.verdicts
    assert v.matched and v.recipients == (COMMUNE,)
    assert ARCHIVE in [r.recipient for r in decision.routes]
