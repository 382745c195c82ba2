"""Listing cases: filters and the keyset cursor that pages through them. Pure.

Pages are in a total order, newest first on (opened_at, case_id): a cursor is the last
row's position in it, so a case opened while someone pages appears on no page twice and
leaves no gap, which an offset cannot promise.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from refuge_intake.domain.normalise import InvalidField

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class CaseFilters:
    """What to list; dates are local to the office that holds the case."""

    office_id: UUID | None = None
    case_type: str | None = None
    status: str | None = None
    caseworker_id: UUID | None = None
    opened_from: date | None = None
    opened_to: date | None = None

    def __post_init__(self) -> None:
        if self.opened_from and self.opened_to and self.opened_to < self.opened_from:
            raise InvalidField("opened_to", "is before opened_from")


@dataclass(frozen=True)
class Cursor:
    """The position after which the next page starts."""

    opened_at: datetime
    case_id: UUID

    def encode(self) -> str:
        raw = json.dumps({"o": self.opened_at.isoformat(), "c": str(self.case_id)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            opened_at = datetime.fromisoformat(raw["o"])
            if opened_at.tzinfo is None:
                raise ValueError("naive instant")
            return cls(opened_at=opened_at, case_id=UUID(raw["c"]))
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as error:
            raise InvalidField("cursor", "is not a cursor this API returned") from error
