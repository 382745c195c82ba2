"""Which events notify whom, on which channel: a default policy and per-organisation overrides.

The default (``DEFAULT_POLICY``) is what an organisation gets until it changes a rule with
``refuge-notifications policy set``. A rule only allows a message: a beneficiary still
receives one only with their consent for that channel, outside quiet hours for SMS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind

REMINDER_DUE = "reminder.due"
HEARING_SCHEDULED = "case.hearing_scheduled"
HEARING_RESCHEDULED = "case.hearing_rescheduled"
HEARING_CANCELLED = "case.hearing_cancelled"
DEADLINE_MISSED = "deadline.missed"
# Not an event: the weekly job that lists each office's coming deadlines to its caseworkers.
WEEKLY_DIGEST = "digest.weekly"
TRIGGERS = (
    REMINDER_DUE,
    HEARING_SCHEDULED,
    HEARING_RESCHEDULED,
    HEARING_CANCELLED,
    DEADLINE_MISSED,
    WEEKLY_DIGEST,
)
HEARING_TRIGGERS = {
    "scheduled": HEARING_SCHEDULED,
    "rescheduled": HEARING_RESCHEDULED,
    "cancelled": HEARING_CANCELLED,
}
_SMS, _EMAIL = NotificationChannel.SMS, NotificationChannel.EMAIL
_BENEFICIARY, _CASEWORKER = RecipientKind.BENEFICIARY, RecipientKind.CASEWORKER


@dataclass(frozen=True)
class Rule:
    trigger: str
    recipient: RecipientKind
    channel: NotificationChannel


# trigger, recipient, channel -> enabled by default
DEFAULT_POLICY: Mapping[Rule, bool] = {
    Rule(REMINDER_DUE, _CASEWORKER, _EMAIL): True,
    Rule(REMINDER_DUE, _BENEFICIARY, _SMS): True,
    Rule(REMINDER_DUE, _BENEFICIARY, _EMAIL): True,
    # The beneficiary is told of every change of their hearing's date, on both channels.
    **{
        Rule(trigger, _BENEFICIARY, channel): True
        for trigger in HEARING_TRIGGERS.values()
        for channel in (_SMS, _EMAIL)
    },
    # A missed deadline is for the staff: the caseworker and the coordinators, at once.
    Rule(DEADLINE_MISSED, _CASEWORKER, _EMAIL): True,
    Rule(DEADLINE_MISSED, RecipientKind.COORDINATOR, _EMAIL): True,
    Rule(WEEKLY_DIGEST, _CASEWORKER, _EMAIL): True,
}


def known(rule: Rule) -> bool:
    """Rules the service can act on (staff SMS, for one, does not exist yet)."""

    return rule in DEFAULT_POLICY


def enabled(rule: Rule, overrides: Mapping[Rule, bool]) -> bool:
    """The organisation's override if it has one, else the default (off if unknown)."""

    if rule in overrides:
        return overrides[rule]
    return DEFAULT_POLICY.get(rule, False)


def effective(overrides: Mapping[Rule, bool]) -> dict[Rule, tuple[bool, bool]]:
    """Every known rule: (enabled, overridden)."""

    rules = {*DEFAULT_POLICY, *overrides}
    return {rule: (enabled(rule, overrides), rule in overrides) for rule in rules}
