"""When an unaccompanied minor comes of age, at the coarsest date that is never late.

Deadlines reads the birth date from its seal but must not publish it: a deadline's ``due``
travels in clear. So the anchor is the first day of the birth month, 18 years on (1 January
with only a year): the earliest day the person can turn 18. Every deadline counted from it
is at most a month early, never late.
"""

from __future__ import annotations

import calendar
from datetime import date

from .counting import add_months

MAJORITY = 18
# CE 1 June 2022 n° 441736 (fr.toml): a permit is applied for within two months of turning 18;
# after that, coming of age no longer opens anything.
RELEVANT_MONTHS_AFTER = 2


def earliest_coming_of_age(birth_date: date | None, birth_year: int | None) -> date | None:
    if birth_date is not None:
        return date(birth_date.year + MAJORITY, birth_date.month, 1)
    if birth_year is not None:
        return date(birth_year + MAJORITY, 1, 1)
    return None


def latest_coming_of_age(birth_date: date | None, birth_year: int | None) -> date | None:
    if birth_date is not None:
        year = birth_date.year + MAJORITY
        if (birth_date.month, birth_date.day) == (2, 29) and not calendar.isleap(year):
            return date(year, 3, 1)  # born on 29 February: of age on 1 March in a common year
        return birth_date.replace(year=year)
    if birth_year is not None:
        return date(birth_year + MAJORITY, 12, 31)
    return None


def coming_of_age_anchor(birth_date: date | None, birth_year: int | None, today: date) -> date | None:
    """The anchor of the age-out deadlines, or None: birth unknown, or of age for longer than
    any such deadline runs (a person recorded as a minor by mistake raises no alarm)."""

    latest = latest_coming_of_age(birth_date, birth_year)
    if latest is None or add_months(latest, RELEVANT_MONTHS_AFTER) < today:
        return None
    return earliest_coming_of_age(birth_date, birth_year)
