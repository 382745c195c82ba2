"""The deadline engine: every deadline a notified decision opens. Pure; reads only the packs.

The service calls :func:`compute_deadlines` with a :class:`Decision` built from a
``case.decision_notified`` event and publishes one ``deadline.computed`` per result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calendars import Jurisdiction, get_jurisdiction, is_working_day
from .counting import compute_due, due_from_date
from .errors import InvalidDecision, UnknownJurisdiction
from .packs import load_pack
from .rules import Counting, Rule, RulePack

__all__ = [
    "ComputedDeadline",
    "Decision",
    "InvalidDecision",
    "UnknownJurisdiction",
    "compute_deadlines",
    "rule_due",
]


@dataclass(frozen=True)
class Decision:
    """A decision notified in a case (the data of ``case.decision_notified``)."""

    jurisdiction: str  # "FR", "FR-976", "US", ...
    decision: str  # "oqtf", "ij_decision", ...
    regime: str | None
    notified_at: datetime  # timezone-aware
    # IANA; default from the jurisdiction (FR -> Europe/Paris, FR-971 -> America/Guadeloupe,
    # FR-972 America/Martinique, FR-973 America/Cayenne, FR-974 Indian/Reunion,
    # FR-976 Indian/Mayotte, US -> America/New_York)
    timezone: str | None = None


@dataclass(frozen=True)
class ComputedDeadline:
    """One deadline: the last instant at which the act is still in time."""

    purpose: str
    rule: str
    legal_basis: str
    due: datetime  # aware, in the deadline's local time zone
    timezone: str
    alternative: str | None


def compute_deadlines(decision: Decision) -> list[ComputedDeadline]:
    """Every deadline the decision opens, earliest first; ``[]`` when none applies.

    Raises :class:`UnknownJurisdiction` or :class:`InvalidDecision`, naming the field.
    """
    jurisdiction = get_jurisdiction(decision.jurisdiction)
    pack = load_pack(jurisdiction.pack)
    _check_decision(decision, pack, jurisdiction)
    tz_name = decision.timezone if decision.timezone is not None else jurisdiction.timezone
    tz = _zone(tz_name)
    notified_on = decision.notified_at.astimezone(tz).date()
    rules = pack.rules_for(decision.decision, decision.regime, notified_on)
    deadlines = [_deadline(rule, decision, jurisdiction, tz, tz_name) for rule in rules]
    return sorted(deadlines, key=lambda d: (d.due, d.rule))


def _deadline(
    rule: Rule, decision: Decision, jurisdiction: Jurisdiction, tz: ZoneInfo, tz_name: str
) -> ComputedDeadline:
    due, alternative = rule_due(rule, decision.notified_at, jurisdiction.code, tz)
    return ComputedDeadline(
        purpose=rule.purpose,
        rule=rule.id,
        legal_basis=rule.legal_basis,
        due=due,
        timezone=tz_name,
        alternative=alternative,
    )


def rule_due(
    rule: Rule,
    anchor: datetime | date,
    jurisdiction: str,
    tz: ZoneInfo,
    not_after: datetime | None = None,
) -> tuple[datetime, str | None]:
    """The due instant of ``rule`` from ``anchor`` (an instant, or a local date), and its alternative.

    Every reading is computed: the rule's counting, the alternative's counting if any, and,
    with ``not_after`` (R.921-1: a restarted window never ends after the one it replaces),
    that cap. The earliest is kept: a legal-aid tool must never remind too late. When another
    reading is later, the alternative ends with "Other reading: due <the latest one>."
    """
    working = partial(is_working_day, jurisdiction)

    def due_by(counting: Counting) -> datetime:
        if isinstance(anchor, datetime):
            return compute_due(counting, rule.duration, anchor, tz, working)
        return due_from_date(counting, rule.duration, anchor, tz, working)

    readings = [due_by(rule.counting)]
    alternative = None
    if rule.alternative is not None:
        alternative = rule.alternative.reason
        if rule.alternative.counting is not None:
            readings.append(due_by(rule.alternative.counting))
    due, other = min(readings), max(readings)
    if not_after is not None and not_after < due:
        due = not_after.astimezone(tz)
    if alternative is not None and other != due:
        alternative = f"{alternative} Other reading: due {other.isoformat()}."
    return due, alternative


def _check_decision(decision: Decision, pack: RulePack, jurisdiction: Jurisdiction) -> None:
    kind = pack.decisions.get(decision.decision) if isinstance(decision.decision, str) else None
    if kind is None:
        known = ", ".join(sorted(pack.decisions))
        raise InvalidDecision(
            f"decision: {decision.decision!r} is not a decision known in {jurisdiction.code} (known: {known})"
        )
    regime = decision.regime
    if regime is None:
        if kind.regime_required:
            raise InvalidDecision(
                f"regime: required for decision {kind.name!r} in {jurisdiction.code} "
                f"(one of {', '.join(sorted(kind.regimes))})"
            )
    elif not isinstance(regime, str) or regime not in pack.regimes:
        known = ", ".join(sorted(pack.regimes)) or "none: leave it null"
        raise InvalidDecision(f"regime: {regime!r} is not a regime known in {jurisdiction.code} ({known})")
    elif kind.regimes and regime not in kind.regimes:
        raise InvalidDecision(
            f"regime: {regime!r} does not apply to decision {kind.name!r} "
            f"(one of {', '.join(sorted(kind.regimes))})"
        )
    notified_at = decision.notified_at
    if not isinstance(notified_at, datetime) or notified_at.utcoffset() is None:
        raise InvalidDecision(f"notified_at: must be a timezone-aware datetime, got {notified_at!r}")


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise InvalidDecision(f"timezone: expected an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidDecision(f"timezone: {name!r} is not a known IANA time zone") from exc
