"""What a write may assume before its statement reads it: the jurisdiction of an office or a case.

A case, its opening fact and several other facts carry a jurisdiction taken from the
office or the case when the caller names none, so their event cannot be built before it
is known; reading it first would cost a round trip, a third of a write. These are hints
only: the statement that writes (:mod:`refuge_intake.adapters.case_writes`) compares the
hint with the row it reads and writes nothing when they differ, and the write is then
built again from what it read. A hint may so be stale, or name another tenant's office,
without harm. A case's jurisdiction never changes; an office's may.
"""

from __future__ import annotations

from uuid import UUID

KEPT = 100_000


class Jurisdictions:
    """Jurisdictions by office or case id, at most :data:`KEPT` (then forgotten at once)."""

    def __init__(self) -> None:
        self._known: dict[UUID, str] = {}

    def get(self, id_: UUID) -> str | None:
        return self._known.get(id_)

    def keep(self, id_: UUID, jurisdiction: str) -> None:
        if len(self._known) >= KEPT and id_ not in self._known:
            self._known.clear()
        self._known[id_] = jurisdiction

    def forget(self, id_: UUID) -> None:
        self._known.pop(id_, None)


OFFICES = Jurisdictions()
CASES = Jurisdictions()
