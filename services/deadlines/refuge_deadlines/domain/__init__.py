"""The pure deadline engine: rule packs as data, counting rules, working-day calendars.

No I/O except reading the packaged rule files. :func:`compute_deadlines` gives the deadlines
one notified decision opens (the CLI uses it); :func:`plan_case` the whole deadline plan of a
case from all its facts, with each deadline's status (the service diffs it on every fact).
"""

from .engine import (
    ComputedDeadline,
    Decision,
    InvalidDecision,
    UnknownJurisdiction,
    compute_deadlines,
)
from .errors import InvalidFact
from .planning import (
    CaseContext,
    CaseFact,
    DeadlineStatus,
    PlannedDeadline,
    deadline_uuid,
    plan_case,
)

__all__ = [
    "CaseContext",
    "CaseFact",
    "ComputedDeadline",
    "DeadlineStatus",
    "Decision",
    "InvalidDecision",
    "InvalidFact",
    "PlannedDeadline",
    "UnknownJurisdiction",
    "compute_deadlines",
    "deadline_uuid",
    "plan_case",
]
