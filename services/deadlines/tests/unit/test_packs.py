"""Rule packs: the packaged files load, and malformed packs fail with clear errors."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import pytest

from refuge_deadlines.domain.errors import RulePackError
from refuge_deadlines.domain.packs import load_pack, parse_pack
from refuge_deadlines.domain.rules import Duration


@pytest.mark.parametrize("name", ["fr", "us"])
def test_packaged_packs_load(name: str) -> None:
    pack = load_pack(name)
    assert pack.jurisdiction == name.upper()
    for rule in pack.rules:
        assert rule.id.startswith(f"{name}.")
        assert rule.legal_basis
        assert rule.checked_against
        assert re.search(r"https://", rule.checked_against), rule.id


def test_oqtf_ordinary_rule_as_specified() -> None:
    rule = load_pack("fr").rule("fr.ceseda.l911-1.oqtf_ordinary")
    assert rule.trigger.decision == "oqtf"
    assert rule.trigger.regimes == frozenset({"ordinary"})
    assert rule.purpose == "appeal"
    assert rule.duration == Duration(1, "months")
    assert rule.counting == "franc"
    assert "L.911-1" in rule.legal_basis
    assert "2024-42" in rule.legal_basis
    assert rule.in_force_from == date(2024, 7, 15)


def test_seven_day_rules_keep_the_earliest_and_record_the_franc_reading() -> None:
    pack = load_pack("fr")
    for rule_id in (
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "fr.ceseda.l572-4.dublin_transfer",
    ):
        rule = pack.rule(rule_id)
        assert rule.counting == "non_franc"
        assert rule.alternative is not None
        assert rule.alternative.counting == "franc"


def _minimal() -> dict[str, Any]:
    return {
        "schema": 1,
        "jurisdiction": "FR",
        "regimes": ["ordinary", "detention"],
        "decisions": {"oqtf": {"regimes": ["ordinary", "detention"]}},
        "rule": [
            {
                "id": "fr.test.one",
                "purpose": "appeal",
                "counting": "franc",
                "legal_basis": "a text",
                "checked_against": "https://example.org",
                "trigger": {"decision": "oqtf", "regime": ["ordinary"]},
                "duration": {"amount": 1, "unit": "months"},
            }
        ],
    }


def test_minimal_pack_parses() -> None:
    pack = parse_pack(_minimal(), "test.toml")
    assert [r.id for r in pack.rules] == ["fr.test.one"]


def _set(path: str, value: Any) -> dict[str, Any]:
    data = _minimal()
    target: Any = data
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("schema", 2, r"schema: expected 1"),
        ("rule.0.counting", "franc_ish", r"counting: 'franc_ish' is not one of"),
        ("rule.0.purpose", "appel", r"purpose: 'appel' is not one of"),
        ("rule.0.duration", {"amount": 48, "unit": "hours"}, r"cannot count a delay in hours"),
        ("rule.0.duration", {"amount": 0, "unit": "days"}, r"amount: must be positive"),
        ("rule.0.duration", {"amount": True, "unit": "days"}, r"amount: expected an integer"),
        ("rule.0.duration", {"amount": 1, "unit": "weeks"}, r"unit: 'weeks' is not one of"),
        ("rule.0.trigger", {"decision": "ofii"}, r"decision: 'ofii' is not one of"),
        ("rule.0.trigger", {"decision": "oqtf", "regime": ["x"]}, r"regime: unknown x"),
        ("rule.0.trigger", {"decision": "oqtf", "regime": []}, r"regime: must not be empty"),
        ("rule.0.trigger", {"decision": "oqtf", "event": "case.opened"}, r"event: 'case.opened'"),
        ("rule.0.checked_against", _DELETE, r"\(fr.test.one\).checked_against: missing"),
        ("rule.0.legal_basis", "  ", r"legal_basis: must not be empty"),
        ("rule.0.id", "us.test.one", r"id: 'us.test.one' must look like 'fr.<source>.<name>'"),
        ("rule.0.colour", "blue", r"unknown key\(s\) colour"),
        ("rule.0.in_force_from", "2024-07-15", r"in_force_from: expected a date"),
        ("rule.0.alternative", {"reason": "r", "counting": "franc"}, r"same as the rule's"),
        ("rule.0.alternative", {"counting": "non_franc"}, r"alternative.reason: missing"),
        ("decisions.oqtf.regime_required", True, r"no rule for regime 'detention'"),
        ("decisions.oqtf.regimes", ["asylum"], r"regimes: unknown asylum"),
        ("decisions", {}, r"no decision declared"),
        ("rule", [], r"at least one \[\[rule\]\]"),
    ],
)
def test_invalid_packs_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(RulePackError, match=message) as excinfo:
        parse_pack(_set(path, value), "test.toml")
    assert str(excinfo.value).startswith("test.toml")


def test_duplicate_ids() -> None:
    data = _minimal()
    data["rule"].append(copy.deepcopy(data["rule"][0]))
    with pytest.raises(RulePackError, match=r"duplicate id 'fr.test.one'"):
        parse_pack(data, "test.toml")


def test_missing_pack_file() -> None:
    with pytest.raises(RulePackError, match=r"de.toml: no such rule pack"):
        load_pack("de")


# --- rules on other facts: detention (R.921-1), permit (R.431-5), arrival --------------------


def _with_other_rules() -> dict[str, Any]:
    data = _minimal()
    data["rule"] += [
        {
            "id": "fr.test.detention",
            "purpose": "appeal",
            "counting": "hour_to_hour",
            "legal_basis": "a text",
            "checked_against": "https://example.org",
            "trigger": {"event": "case.detention_started", "detention": ["administrative"]},
            "duration": {"amount": 48, "unit": "hours"},
            "restarts": True,
            "supersedes": ["fr.test.one"],
        },
        {
            "id": "fr.test.permit",
            "purpose": "renewal_window_closes",
            "counting": "backward",
            "legal_basis": "a text",
            "checked_against": "https://example.org",
            "trigger": {"event": "case.permit_recorded"},
            "duration": {"amount": 60, "unit": "days"},
            "supersedes": ["fr.test.permit"],
        },
    ]
    return data


def test_rules_on_other_facts_parse() -> None:
    pack = parse_pack(_with_other_rules(), "test.toml")
    detention = pack.rule("fr.test.detention")
    assert detention.restarts and detention.supersedes == frozenset({"fr.test.one"})
    assert detention.trigger.matches_detention("administrative")
    assert not detention.trigger.matches_detention("other")
    assert not detention.trigger.matches_detention(None)
    assert [r.id for r in pack.rules_on("case.permit_recorded")] == ["fr.test.permit"]
    # Only decision rules answer a decision.
    assert [r.id for r in pack.rules_for("oqtf", "ordinary", date(2026, 3, 6))] == ["fr.test.one"]


@pytest.mark.parametrize(
    ("index", "key", "value", "message"),
    [
        (1, "trigger", {"event": "case.detention_started"}, r"detention: missing or empty"),
        (
            1,
            "trigger",
            {"event": "case.detention_started", "detention": ["cell"]},
            r"detention: unknown cell",
        ),
        (
            1,
            "trigger",
            {"event": "case.detention_started", "detention": ["prison"], "decision": "oqtf"},
            r"decision",
        ),
        (1, "restarts", False, r"restarts: a case.detention_started rule, and only it"),
        (1, "supersedes", [], r"supersedes: a rule that restarts windows must name them"),
        (1, "supersedes", ["fr.test.nope"], r"supersedes: unknown rule\(s\) fr.test.nope"),
        (2, "counting", "non_franc", r"counting: 'non_franc' with a case.permit_recorded trigger"),
        (
            2,
            "trigger",
            {"event": "case.permit_recorded", "detention": ["prison"]},
            r"unknown key\(s\) detention",
        ),
        (2, "restarts", True, r"restarts: a case.detention_started rule, and only it"),
        (0, "counting", "backward", r"counting: 'backward' with a case.decision_notified trigger"),
        (
            2,
            "trigger",
            {"event": "case.arrival_recorded"},
            r"counting: 'backward' with a case.arrival_recorded trigger",
        ),
    ],
)
def test_invalid_rules_on_other_facts(index: int, key: str, value: Any, message: str) -> None:
    data = _with_other_rules()
    data["rule"][index][key] = value
    with pytest.raises(RulePackError, match=message):
        parse_pack(data, "test.toml")


def test_hours_cannot_count_from_an_arrival_date() -> None:
    data = _with_other_rules()
    data["rule"][2].update(
        counting="hour_to_hour",
        duration={"amount": 48, "unit": "hours"},
        trigger={"event": "case.arrival_recorded"},
    )
    with pytest.raises(RulePackError, match=r"case.arrival_recorded gives a date; it cannot count hours"):
        parse_pack(data, "test.toml")


def test_packaged_restart_rules_never_restart_themselves_and_have_alternatives() -> None:
    for rule in load_pack("fr").rules_on("case.detention_started"):
        assert rule.restarts and rule.id not in rule.supersedes
        assert rule.alternative is not None  # the uncapped reading is recorded
        assert rule.in_force_from == date(2024, 7, 15)
