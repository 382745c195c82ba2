"""The facts of a case as the planner reads them: event data as JSON, read field by field.

Data is what ``model_dump(mode="json")`` gives for a ``refuge.cases.v1`` event: instants are
ISO 8601 strings with an offset, dates ``YYYY-MM-DD``, absent optional fields ``null`` or
missing. Reading is lenient where the contract asks consumers to be (unknown fields and
unknown enum values are not errors; a value the planner does not know simply matches no rule)
and strict on what a deadline needs (a required instant that is missing or has no offset is an
:class:`InvalidFact` naming the fact and the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidFact


@dataclass(frozen=True)
class CaseFact:
    """One fact of the case, in case order."""

    event_id: str  # CloudEvents id of the fact
    kind: str  # "decision_notified", "hearing_scheduled", ... (the type's event name)
    data: Mapping[str, Any]  # the event data as JSON (model_dump(mode="json"))


@dataclass(frozen=True)
class CaseContext:
    """What the planner knows of the case besides its facts."""

    case_id: str
    jurisdiction: str  # the case's jurisdiction (FR, FR-976, US...)
    office_timezone: str | None  # the current office's IANA zone (changes on transfer)


class FactReader:
    """Typed access to the fields of one fact; errors name the fact and the field."""

    def __init__(self, fact: CaseFact) -> None:
        self.fact = fact
        self.where = f"fact {fact.event_id} ({fact.kind})"

    def error(self, field: str, message: str) -> InvalidFact:
        return InvalidFact(f"{self.where}.{field}: {message}")

    def _value(self, field: str) -> object:
        value = self.fact.data.get(field)
        if value is None:
            raise self.error(field, "missing")
        return value

    def text(self, field: str) -> str:
        value = self._value(field)
        if not isinstance(value, str) or not value:
            raise self.error(field, f"expected a non-empty string, got {value!r}")
        return value

    def optional_text(self, field: str) -> str | None:
        return None if self.fact.data.get(field) is None else self.text(field)

    def instant(self, field: str) -> datetime:
        value = self._value(field)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError as exc:
                raise self.error(field, f"not an ISO 8601 instant: {value!r}") from exc
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise self.error(field, f"expected an instant with its offset, got {value!r}")
        return value

    def optional_instant(self, field: str) -> datetime | None:
        return None if self.fact.data.get(field) is None else self.instant(field)

    def day(self, field: str) -> date:
        value = self._value(field)
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError as exc:
                raise self.error(field, f"not an ISO 8601 date: {value!r}") from exc
        if not isinstance(value, date) or isinstance(value, datetime):
            raise self.error(field, f"expected a date, got {value!r}")
        return value

    def optional_uuid(self, field: str) -> UUID | None:
        value = self.optional_text(field)
        if value is None:
            return None
        try:
            return UUID(value)
        except ValueError as exc:
            raise self.error(field, f"not a UUID: {value!r}") from exc


def known_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA zone this machine knows, else ``None``.

    The contract checks only the shape of zone names: an older tzdata here must not turn a
    valid event into a dead letter, so an unknown display zone falls back to the next one.
    """
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name
