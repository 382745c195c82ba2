"""How people see identifiers: shared by every service that shows a case to someone."""

from __future__ import annotations

from uuid import UUID


def case_reference(case_id: UUID | str) -> str:
    """The short reference a caseworker reads and says on the phone (no personal data)."""

    return str(case_id).replace("-", "")[:8].upper()
