"""Working-day calendars per jurisdiction."""

from __future__ import annotations

from datetime import date

import pytest

from refuge_deadlines.domain.calendars import (
    JURISDICTIONS,
    get_jurisdiction,
    is_working_day,
    next_working_day,
    public_holidays,
)
from refuge_deadlines.domain.errors import UnknownJurisdiction


@pytest.mark.parametrize(
    ("code", "timezone"),
    [
        ("FR", "Europe/Paris"),
        ("FR-971", "America/Guadeloupe"),
        ("FR-972", "America/Martinique"),
        ("FR-973", "America/Cayenne"),
        ("FR-974", "Indian/Reunion"),
        ("FR-976", "Indian/Mayotte"),
        ("US", "America/New_York"),
    ],
)
def test_default_time_zones(code: str, timezone: str) -> None:
    assert get_jurisdiction(code).timezone == timezone


@pytest.mark.parametrize(
    ("code", "day"),
    [
        ("FR", date(2026, 4, 6)),  # Easter Monday
        ("FR", date(2026, 5, 1)),  # Labour Day
        ("FR", date(2026, 7, 14)),  # Bastille Day
        ("FR-971", date(2026, 5, 27)),  # abolition of slavery, Guadeloupe
        ("FR-971", date(2026, 7, 21)),  # Victor Schœlcher day, Guadeloupe
        ("FR-972", date(2026, 5, 22)),  # abolition, Martinique
        ("FR-973", date(2026, 6, 10)),  # abolition, Guyane
        ("FR-974", date(2026, 12, 20)),  # abolition, La Réunion (a Sunday in 2026)
        ("FR-976", date(2026, 4, 27)),  # abolition, Mayotte
        ("US", date(2026, 6, 19)),  # Juneteenth
        ("US", date(2026, 9, 7)),  # Labor Day
        ("US", date(2026, 7, 3)),  # Independence Day observed (4 July is a Saturday)
    ],
)
def test_holidays(code: str, day: date) -> None:
    assert day in public_holidays(code, day.year)
    assert not is_working_day(code, day)


def test_overseas_holiday_is_not_metropolitan() -> None:
    assert not is_working_day("FR-976", date(2026, 4, 27))
    assert is_working_day("FR", date(2026, 4, 27))
    assert is_working_day("FR-971", date(2026, 4, 27))


def test_guadeloupe_customary_days_are_working_days() -> None:
    # holidays lists Good Friday and Mi-Carême for Guadeloupe; they are customary, not
    # public holidays set by a text, so they must not push a deadline later.
    assert is_working_day("FR-971", date(2026, 3, 12))  # Mi-Carême
    assert is_working_day("FR-971", date(2026, 4, 3))  # Good Friday


def test_weekends_are_never_working_days() -> None:
    for code in JURISDICTIONS:
        assert not is_working_day(code, date(2026, 3, 7))  # Saturday
        assert not is_working_day(code, date(2026, 3, 8))  # Sunday


def test_next_working_day() -> None:
    assert next_working_day("FR", date(2026, 5, 1)) == date(2026, 5, 4)  # Fri holiday -> Mon
    assert next_working_day("US", date(2026, 9, 6)) == date(2026, 9, 8)  # Sun, Labor Day


@pytest.mark.parametrize("code", ["DE", "fr", "FR-975", "FR-75", "", None, 33])
def test_unknown_jurisdiction(code: object) -> None:
    with pytest.raises(UnknownJurisdiction, match="jurisdiction"):
        get_jurisdiction(code)
