"""The working state of a plan while the facts of a case are applied, in order.

Entries are mutable here and frozen into :class:`~.planning.PlannedDeadline` at the end. An
entry's status only moves forward: ``open`` to ``met`` or ``cancelled``, never back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from .calendars import JURISDICTIONS
from .facts import CaseContext, known_zone
from .rules import Rule

DeadlineStatus = Literal["open", "met", "cancelled"]
#: The DeadlineCancelReason values the planner gives.
CancelReason = Literal["superseded", "fact_withdrawn", "case_closed"]
#: uuid5 namespace of deadline ids (the one service_layer/recompute.py uses).
DEADLINE_NAMESPACE = UUID("6f1d3c9e-8a52-4c1e-9b7a-3f0e2d4c5b61")


def deadline_uuid(case_id: str, key: str) -> UUID:
    """The ``deadline_id`` of a planned deadline, ``uuid5(namespace, "<case id>/<key>")``.

    Stable across recomputations, so an ``appeal_filed`` can name the deadline it meets;
    ``case_id`` in its canonical text form (``str(UUID)``).
    """
    return uuid5(DEADLINE_NAMESPACE, f"{case_id}/{key}")


@dataclass
class Entry:
    """A deadline while the facts are applied (mutable working state)."""

    key: str
    purpose: str
    rule: str
    legal_basis: str
    due: datetime
    zone: str | None  # None: a hearing shown in the office's zone
    alternative: str | None
    trigger_event_id: str
    jurisdiction: str | None = None  # whose calendar counted it (restarts count in it too)
    window_start: datetime | None = None  # when the window opened (R.921-1 restarts)
    answers: str | None = None  # the decision an appeal against it answers
    answers_from: datetime | None = None  # that decision's notification
    status: DeadlineStatus = "open"
    met_at: datetime | None = None
    met_by_event_id: str | None = None
    cancel_reason: CancelReason | None = None
    superseded_by: str | None = None

    def meet(self, at: datetime, event_id: str) -> None:
        self.status, self.met_at, self.met_by_event_id = "met", at, event_id

    def cancel(self, reason: CancelReason, superseded_by: str | None = None) -> None:
        self.status, self.cancel_reason, self.superseded_by = "cancelled", reason, superseded_by


class Ledger:
    """The entries of a case, by key in the order they were opened, and its hearings."""

    def __init__(self, context: CaseContext) -> None:
        self.context = context
        self.entries: dict[str, Entry] = {}
        self.hearings: dict[str, str] = {}  # hearing id -> key of its current deadline

    def add(self, entry: Entry) -> None:
        if entry.key in self.entries:  # keys embed event ids, which are deduplicated
            raise AssertionError(f"duplicate deadline key {entry.key}")
        self.entries[entry.key] = entry

    def open_entries(self) -> list[Entry]:
        return [entry for entry in self.entries.values() if entry.status == "open"]

    def supersede(self, rule: Rule, new_key: str) -> None:
        for entry in self.open_entries():
            if entry.rule in rule.supersedes:
                entry.cancel("superseded", new_key)

    def office_zone(self) -> str:
        zone = known_zone(self.context.office_timezone)
        if zone is not None:
            return zone
        jurisdiction = JURISDICTIONS.get(self.context.jurisdiction)
        # Display only (the instant does not depend on it): never fail the plan for it.
        return jurisdiction.timezone if jurisdiction is not None else "UTC"
