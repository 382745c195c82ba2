"""The rule model: what one rule of a pack says, as immutable values.

A rule opens one deadline when its trigger matches a fact of the case:

* ``case.decision_notified``: a decision, optionally restricted to some regimes; the delay
  runs forward from the notification (:func:`~refuge_deadlines.domain.engine.compute_deadlines`);
* ``case.detention_started``: a detention of some kinds. Such a rule ``restarts`` the windows
  of the rules it ``supersedes`` that are still open at the notice (R.921-1 CESEDA): one new
  window per open one, never ending after it (see :mod:`~refuge_deadlines.domain.planning`);
* ``case.permit_recorded`` / ``case.arrival_recorded``: the delay counts from a date of the
  fact (the permit's expiry, backwards; the last arrival, forwards); a later fact of the same
  kind ``supersedes`` the deadlines the earlier one opened.

* ``person.comes_of_age``: the earliest day an unaccompanied minor may turn 18 (the first day of
  the birth month, 18 years on: the birth date itself never leaves its seal); a later such
  fact ``supersedes`` the deadlines the earlier one opened.

``in_force_from`` restricts a rule to triggers from that date (CESEDA book IX).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, get_args

Unit = Literal["hours", "days", "months", "years"]
Counting = Literal[
    "franc",
    "non_franc",
    "hour_to_hour",
    "calendar_us",
    "calendar",
    "backward",
    "backward_calendar",
    "backward_opening",
]
Purpose = Literal[
    "appeal",
    "legal_aid_request",
    "petition_for_review",
    "motion_to_reopen",
    "motion_to_reconsider",
    "asylum_filing",
    "renewal_window_opens",
    "renewal_window_closes",
    "age_out",
    "hearing",
]

UNITS: Final[frozenset[str]] = frozenset(get_args(Unit))
COUNTINGS: Final[frozenset[str]] = frozenset(get_args(Counting))
PURPOSES: Final[frozenset[str]] = frozenset(get_args(Purpose))
#: Countings whose last day is a date (due at 23:59:59 local, or 00:00 for an opening);
#: ``hour_to_hour`` runs in hours.
DATE_COUNTINGS: Final[frozenset[str]] = COUNTINGS - {"hour_to_hour"}
#: Countings that run backwards from their anchor (a permit's expiry).
BACKWARD_COUNTINGS: Final[frozenset[str]] = frozenset({"backward", "backward_calendar", "backward_opening"})
DECISION_EVENT: Final = "case.decision_notified"
DETENTION_EVENT: Final = "case.detention_started"
PERMIT_EVENT: Final = "case.permit_recorded"
ARRIVAL_EVENT: Final = "case.arrival_recorded"
#: Not a Kafka event type: what deadlines derives from person.registered / .updated.
COMING_OF_AGE_EVENT: Final = "person.comes_of_age"
#: Events a trigger may name.
TRIGGER_EVENTS: Final[frozenset[str]] = frozenset(
    {DECISION_EVENT, DETENTION_EVENT, PERMIT_EVENT, ARRIVAL_EVENT, COMING_OF_AGE_EVENT}
)
#: ``kind`` values of ``case.detention_started`` (the contract's DetentionKind).
DETENTION_KINDS: Final[frozenset[str]] = frozenset({"administrative", "prison", "residence_order", "other"})


@dataclass(frozen=True)
class Duration:
    """A delay: a positive amount of hours, days, months or years."""

    amount: int
    unit: Unit


@dataclass(frozen=True)
class Trigger:
    """The fact that opens the deadline.

    ``case.decision_notified``: ``decision`` (required), optionally only under some
    ``regimes``. ``case.detention_started``: ``detention``, the kinds of detention that match.
    ``case.permit_recorded`` and ``case.arrival_recorded`` match every such fact.
    """

    decision: str | None = None
    regimes: frozenset[str] | None = None
    event: str = DECISION_EVENT
    detention: frozenset[str] | None = None

    def matches(self, decision: str, regime: str | None) -> bool:
        """Whether a notified decision (under ``regime``) triggers the rule."""
        if self.event != DECISION_EVENT or decision != self.decision:
            return False
        return self.regimes is None or regime in self.regimes

    def matches_detention(self, kind: str | None) -> bool:
        """Whether a detention of ``kind`` (``None``: not stated) triggers the rule."""
        return self.event == DETENTION_EVENT and self.detention is not None and kind in self.detention


@dataclass(frozen=True)
class Alternative:
    """Another reading of the same rule where sources disagree.

    ``reason`` says what the other reading is and why the earliest date is kept. With a
    ``counting``, the engine computes the other reading too, keeps the earlier of the two
    dates, and reports the other one.
    """

    reason: str
    counting: Counting | None = None


@dataclass(frozen=True)
class Rule:
    """One deadline rule of a pack."""

    id: str
    trigger: Trigger
    purpose: Purpose
    duration: Duration
    counting: Counting
    legal_basis: str
    checked_against: str
    alternative: Alternative | None = None
    in_force_from: date | None = None
    #: Ids of rules (of the same pack) whose still-open deadlines this rule replaces.
    supersedes: frozenset[str] = frozenset()
    #: R.921-1: instead of one deadline per trigger, restart each still-open window of a
    #: ``supersedes`` rule whose due is after the trigger instant (nothing without one).
    restarts: bool = False

    def in_force(self, on: date) -> bool:
        return self.in_force_from is None or on >= self.in_force_from

    def applies(self, decision: str, regime: str | None, notified_on: date) -> bool:
        return self.in_force(notified_on) and self.trigger.matches(decision, regime)


@dataclass(frozen=True)
class DecisionType:
    """A kind of decision a jurisdiction knows, and the regimes it may be notified under."""

    name: str
    regimes: frozenset[str] = frozenset()
    regime_required: bool = False


@dataclass(frozen=True)
class RulePack:
    """The rules of one jurisdiction (and its subdivisions), as loaded from its TOML file."""

    jurisdiction: str
    source: str
    regimes: frozenset[str]
    decisions: Mapping[str, DecisionType]
    rules: tuple[Rule, ...]

    def rules_for(self, decision: str, regime: str | None, notified_on: date) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies(decision, regime, notified_on))

    def rules_on(self, event: str) -> tuple[Rule, ...]:
        """The rules triggered by facts of type ``event``, in pack order."""
        return tuple(r for r in self.rules if r.trigger.event == event)

    def rule(self, rule_id: str) -> Rule:
        for candidate in self.rules:
            if candidate.id == rule_id:
                return candidate
        raise KeyError(rule_id)
