"""The engine's public API: which deadlines a decision opens, and clear input errors."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from refuge_deadlines.domain import (
    ComputedDeadline,
    Decision,
    InvalidDecision,
    UnknownJurisdiction,
    compute_deadlines,
)

NOTIFIED = datetime.fromisoformat("2026-03-06T10:30:00+01:00")


def _decision(**changes: object) -> Decision:
    base = Decision("FR", "oqtf", "ordinary", NOTIFIED, None)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_design_example() -> None:
    (deadline,) = compute_deadlines(Decision("FR", "oqtf", "ordinary", NOTIFIED, "Europe/Paris"))
    assert deadline == ComputedDeadline(
        purpose="appeal",
        rule="fr.ceseda.l911-1.oqtf_ordinary",
        legal_basis=deadline.legal_basis,
        due=datetime(2026, 4, 7, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris")),
        timezone="Europe/Paris",
        alternative=None,
    )
    assert deadline.due.isoformat() == "2026-04-07T23:59:59+02:00"


@pytest.mark.parametrize(
    ("jurisdiction", "decision", "regime", "rules"),
    [
        ("FR", "oqtf", "ordinary", ["fr.ceseda.l911-1.oqtf_ordinary"]),
        ("FR", "oqtf", "residence_order", ["fr.ceseda.l921-1.oqtf_residence_order_prison"]),
        ("FR", "oqtf", "prison", ["fr.ceseda.l921-1.oqtf_residence_order_prison"]),
        ("FR", "oqtf", "detention", ["fr.ceseda.l921-2.oqtf_detention"]),
        ("FR", "dublin_transfer", "ordinary", ["fr.ceseda.l572-4.dublin_transfer"]),
        ("FR", "dublin_transfer", "detention", ["fr.ceseda.l572-4.dublin_transfer_detention"]),
        ("FR", "expulsion", None, ["fr.cja.r421-1.expulsion"]),
        # earliest first: legal aid (15 days) before the appeal (one month)
        (
            "FR",
            "ofpra_rejection",
            None,
            ["fr.loi91-647.art9-4.cnda_legal_aid", "fr.ceseda.l532-1.cnda_appeal"],
        ),
        ("FR", "residence_permit_refusal", None, []),
        (
            "US",
            "ij_decision",
            None,
            [
                "us.8cfr.1003.23b1.ij_motion_to_reconsider",
                "us.8cfr.1003.38.bia_appeal",
                "us.8cfr.1003.23b1.ij_motion_to_reopen",
            ],
        ),
        (
            "US",
            "bia_decision",
            None,
            [
                "us.8cfr.1003.2b2.motion_to_reconsider",
                "us.8usc.1252b1.petition_for_review",
                "us.8cfr.1003.2c2.motion_to_reopen",
            ],
        ),
    ],
)
def test_which_rules_open(jurisdiction: str, decision: str, regime: str | None, rules: list[str]) -> None:
    # 2026-03-06 (Fri): US + 30 = Sun 5 April, so the unmoved motion comes before the appeal.
    result = compute_deadlines(Decision(jurisdiction, decision, regime, NOTIFIED, None))
    assert [d.rule for d in result] == rules
    assert [d.due for d in result] == sorted(d.due for d in result)


def test_removal_rules_before_book_ix_are_not_applied() -> None:
    # CESEDA book IX applies from 15 July 2024; an older notification opens no book-IX rule.
    old = datetime.fromisoformat("2024-07-14T10:00:00+02:00")
    assert compute_deadlines(_decision(notified_at=old)) == []
    assert compute_deadlines(_decision(notified_at=old, decision="expulsion")) != []


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"jurisdiction": "DE"}, UnknownJurisdiction, r"^jurisdiction: 'DE' is not supported"),
        ({"jurisdiction": "fr"}, UnknownJurisdiction, r"^jurisdiction: 'fr'"),
        ({"decision": "ij_decision"}, InvalidDecision, r"^decision: 'ij_decision' is not"),
        ({"regime": None}, InvalidDecision, r"^regime: required for decision 'oqtf'"),
        ({"regime": "house_arrest"}, InvalidDecision, r"^regime: 'house_arrest' is not"),
        (
            {"jurisdiction": "US", "decision": "ij_decision", "regime": "detention"},
            InvalidDecision,
            r"^regime: 'detention' is not a regime known in US",
        ),
        (
            {"notified_at": datetime(2026, 3, 6, 10, 30)},
            InvalidDecision,
            r"^notified_at: must be a timezone-aware datetime",
        ),
        ({"notified_at": "2026-03-06T10:30:00+01:00"}, InvalidDecision, r"^notified_at"),
        (
            {"timezone": "Europe/Atlantis"},
            InvalidDecision,
            r"^timezone: 'Europe/Atlantis' is not a known IANA time zone",
        ),
        ({"timezone": ""}, InvalidDecision, r"^timezone: expected an IANA time zone name"),
    ],
)
def test_invalid_decisions_name_the_field(
    changes: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        compute_deadlines(_decision(**changes))


def test_errors_are_value_errors() -> None:
    assert issubclass(UnknownJurisdiction, ValueError)
    assert issubclass(InvalidDecision, ValueError)


def test_given_timezone_is_used_for_due() -> None:
    (deadline,) = compute_deadlines(_decision(timezone="America/Cayenne"))
    # 10:30+01:00 = 06:30 in Cayenne on 6 March: first day 7 March, due 7 April, -03:00.
    assert deadline.due.isoformat() == "2026-04-07T23:59:59-03:00"
    assert deadline.timezone == "America/Cayenne"
