"""Jurisdictions, their default time zones and their working-day calendars.

Public holidays come from the ``holidays`` package; Saturday and Sunday are never working
days. A jurisdiction is an ISO 3166 code: ``FR`` (metropolitan France), an overseas
department by its ISO 3166-2 subdivision (``FR-971`` Guadeloupe, ``FR-972`` Martinique,
``FR-973`` Guyane, ``FR-974`` La Réunion, ``FR-976`` Mayotte) or ``US`` (federal holidays).
The ``holidays`` package names the French overseas subdivisions by their department number
(``holidays.France(subdiv="976")``, alias ``"YT"``), so ``FR-976`` maps to ``"976"``.

Customary days: for Guadeloupe, ``holidays`` also lists Good Friday and Mi-Carême, which are
locally customary days off but not public holidays set by a text (Code du travail L.3133-1 and
the abolition-day decree list the others). A day that is not certainly a holiday must not move a
deadline later, so these two stay working days here (the earliest defensible reading); a last
day on one of them is *not* moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, partial
from types import MappingProxyType

import holidays

from .counting import roll_forward
from .errors import UnknownJurisdiction

# ``holidays`` names of customary days that we do not treat as public holidays, per
# (country, subdivision); names are compared in the pinned language ``en_US``.
_HOLIDAY_LANGUAGE = "en_US"
_NOT_STATUTORY: Mapping[tuple[str, str | None], frozenset[str]] = MappingProxyType(
    {("FR", "971"): frozenset({"Good Friday", "Mi-Careme"})}
)


@dataclass(frozen=True)
class Jurisdiction:
    """Where a deadline runs: its rule pack, default time zone and holiday calendar."""

    code: str
    pack: str
    timezone: str
    country: str
    subdivision: str | None


def _jurisdictions(*items: Jurisdiction) -> Mapping[str, Jurisdiction]:
    return MappingProxyType({item.code: item for item in items})


JURISDICTIONS: Mapping[str, Jurisdiction] = _jurisdictions(
    Jurisdiction("FR", "fr", "Europe/Paris", "FR", None),
    Jurisdiction("FR-971", "fr", "America/Guadeloupe", "FR", "971"),
    Jurisdiction("FR-972", "fr", "America/Martinique", "FR", "972"),
    Jurisdiction("FR-973", "fr", "America/Cayenne", "FR", "973"),
    Jurisdiction("FR-974", "fr", "Indian/Reunion", "FR", "974"),
    Jurisdiction("FR-976", "fr", "Indian/Mayotte", "FR", "976"),
    Jurisdiction("US", "us", "America/New_York", "US", None),
)


def get_jurisdiction(code: object) -> Jurisdiction:
    """The jurisdiction for an ISO code, or :class:`UnknownJurisdiction` naming the field."""
    if isinstance(code, str) and code in JURISDICTIONS:
        return JURISDICTIONS[code]
    known = ", ".join(JURISDICTIONS)
    raise UnknownJurisdiction(f"jurisdiction: {code!r} is not supported (known: {known})")


@lru_cache(maxsize=1024)
def public_holidays(code: str, year: int) -> frozenset[date]:
    """The public holidays of a jurisdiction in one year (customary days left out)."""
    jurisdiction = get_jurisdiction(code)
    calendar = holidays.country_holidays(
        jurisdiction.country,
        subdiv=jurisdiction.subdivision,
        years=year,
        language=_HOLIDAY_LANGUAGE,
    )
    excluded = _NOT_STATUTORY.get((jurisdiction.country, jurisdiction.subdivision), frozenset())
    return frozenset(
        day for day in list(calendar) if any(name not in excluded for name in calendar.get_list(day))
    )


def is_working_day(code: str, day: date) -> bool:
    """Monday to Friday and not a public holiday of the jurisdiction."""
    return day.weekday() < 5 and day not in public_holidays(code, day.year)


def next_working_day(code: str, day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it."""
    return roll_forward(day, partial(is_working_day, code))
