"""What each message kind says, from the ids and instants of its delivery-log row. Pure.

A delivery's ``context`` holds only ids, purposes and instants (no personal data); these
functions turn it into the values its templates read, with dates written for the
recipient's locale and time zone. The preview endpoint calls them with sample contexts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from refuge_common.presentation import case_reference
from refuge_notifications.domain.rendering import Language, format_instant

BENEFICIARY_REMINDER = "beneficiary_reminder"
BENEFICIARY_HEARING = "beneficiary_hearing"
CASEWORKER_REMINDER = "caseworker_reminder"
DEADLINE_MISSED = "deadline_missed"
CASEWORKER_DIGEST = "caseworker_digest"
BENEFICIARY_TEMPLATES = (BENEFICIARY_REMINDER, BENEFICIARY_HEARING)
STAFF_TEMPLATES = (CASEWORKER_REMINDER, DEADLINE_MISSED, CASEWORKER_DIGEST)
HEARING_CHANGES = ("scheduled", "rescheduled", "cancelled")


class UnknownTemplate(ValueError):
    """A delivery names a template this service has no wording for."""


@dataclass(frozen=True)
class BeneficiaryMessage:
    moment: datetime  # the instant the message is about: it is not sent once that has passed
    offset: str | None  # how long before ``moment`` it fires (reminders), for urgency
    values: dict[str, object]


def beneficiary_message(
    template: str, context: Mapping[str, Any], zone: str, language: Language, organisation: str
) -> BeneficiaryMessage:
    common: dict[str, object] = {"organisation": organisation, "lang": language.locale.replace("_", "-")}
    if template == BENEFICIARY_REMINDER:
        due = datetime.fromisoformat(context["due"])
        with_time = context["purpose"] != "renewal_window_opens"  # a day, not an instant
        text = format_instant(due, zone, language.code, locale=language.locale, with_time=with_time)
        values = {**common, "purpose": context["purpose"], "due_text": text}
        return BeneficiaryMessage(due, context.get("offset"), values)
    if template == BENEFICIARY_HEARING:
        change = context["change"]
        if change not in HEARING_CHANGES:
            raise UnknownTemplate(f"{template}: no wording for change {change!r}")
        moment = datetime.fromisoformat(context["scheduled_at"])
        values = {
            **common,
            "change": change,
            "hearing_text": format_instant(moment, zone, language.code, locale=language.locale),
            "court": context.get("court") or "",
        }
        return BeneficiaryMessage(moment, None, values)
    raise UnknownTemplate(f"no beneficiary template {template!r}")


def staff_values(
    template: str,
    context: Mapping[str, Any],
    zone: str,
    language: str,
    organisation: str,
    recipient_kind: str,
) -> dict[str, object]:
    common: dict[str, object] = {
        "organisation": organisation,
        "timezone": zone,
        "recipient_kind": recipient_kind,
    }
    if template in (CASEWORKER_REMINDER, DEADLINE_MISSED):
        return {
            **common,
            "purpose": context["purpose"],
            "case_reference": case_reference(context["case_id"]),
            "due_text": format_instant(datetime.fromisoformat(context["due"]), zone, language),
        }
    if template == CASEWORKER_DIGEST:
        items = sorted(context["deadlines"], key=lambda item: datetime.fromisoformat(item["due"]))
        return {
            **common,
            "week": context["week"],
            "horizon_days": context["horizon_days"],
            "deadlines": [
                {
                    "due_text": format_instant(datetime.fromisoformat(item["due"]), zone, language),
                    "purpose": item["purpose"],
                    "case_reference": case_reference(item["case_id"]),
                }
                for item in items
            ],
        }
    raise UnknownTemplate(f"no staff template {template!r}")


def sample_context(
    template: str, *, now: datetime, timezone: str, purpose: str, change: str
) -> dict[str, Any]:
    """A context shaped like a real delivery's, with made-up ids and dates, to preview a
    template: no person, no case, nothing looked up."""

    in_a_week = (now + timedelta(days=7)).astimezone(ZoneInfo(timezone))
    due = in_a_week.replace(hour=23, minute=59, second=59, microsecond=0)
    hearing = in_a_week.replace(hour=9, minute=30, second=0, microsecond=0)
    case_id = str(UUID(int=0x5A3D1E))  # a fixed, obviously fake case
    if template == BENEFICIARY_HEARING:
        return {"change": change, "scheduled_at": hearing.isoformat(), "timezone": timezone, "court": ""}
    if template == CASEWORKER_DIGEST:
        items = [
            {"case_id": case_id, "purpose": purpose, "due": (due - timedelta(days=days)).isoformat()}
            for days in (5, 0)
        ]
        year, week, _day = now.isocalendar()
        return {"week": f"{year}-W{week:02d}", "horizon_days": 14, "deadlines": items}
    return {
        "purpose": purpose,
        "case_id": case_id,
        "due": due.isoformat(),
        "timezone": timezone,
        "offset": "P7D",
    }
