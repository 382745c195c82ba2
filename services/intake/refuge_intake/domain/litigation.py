"""Court proceedings of a case: where, under which docket, who argues it, what happened.

The v1 contract carries only a court's name (on hearings and filings). The rest stays in
intake: a docket number finds the parties' names on a public docket, and counsel are
named people, so none of it may travel in clear on a topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class CounselRole(StrEnum):
    LEAD = "lead"
    CO_COUNSEL = "co_counsel"
    LOCAL = "local"
    AMICUS = "amicus"
    OTHER = "other"


class DevelopmentKind(StrEnum):
    """What happened in the proceedings (hearings and appeals are also case facts)."""

    COMPLAINT_FILED = "complaint_filed"
    MOTION_FILED = "motion_filed"
    BRIEF_FILED = "brief_filed"
    ORDER = "order"
    INJUNCTION = "injunction"
    CLASS_CERTIFICATION = "class_certification"
    JUDGMENT = "judgment"
    SETTLEMENT = "settlement"
    APPEAL = "appeal"
    OTHER = "other"


@dataclass(frozen=True)
class Counsel:
    name: str
    role: CounselRole
    organisation: str | None = None


@dataclass(frozen=True)
class Litigation:
    court: str
    docket_number: str | None
    filed_on: date | None
    class_action: bool
    counsel: tuple[Counsel, ...]


@dataclass(frozen=True)
class Development:
    occurred_on: date
    kind: DevelopmentKind
    summary: str
    docket_entry: int | None = None
