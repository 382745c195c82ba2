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
TRIGGERS = (REMINDER_DUE,)


@dataclass(frozen=True)
class Rule:
    trigger: str
    recipient: RecipientKind
    channel: NotificationChannel


# trigger, recipient, channel -> enabled by default
DEFAULT_POLICY: Mapping[Rule, bool] = {
    Rule(REMINDER_DUE, RecipientKind.CASEWORKER, NotificationChannel.EMAIL): True,
    Rule(REMINDER_DUE, RecipientKind.BENEFICIARY, NotificationChannel.SMS): True,
    Rule(REMINDER_DUE, RecipientKind.BENEFICIARY, NotificationChannel.EMAIL): True,
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
