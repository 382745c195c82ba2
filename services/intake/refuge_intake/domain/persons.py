"""A beneficiary: coarse attributes kept in clear, identifying details kept sealed.

Registration and every update go through :func:`apply`, which validates and
normalises the changed fields and re-checks the whole record, so that a partial
update can never leave a person in a state registration would have refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from refuge_common.contract.vocabulary import AgeBand, Gender
from refuge_intake.domain.normalise import (
    InvalidField,
    check_timezone,
    normalise_country,
    normalise_email,
    normalise_language,
    normalise_phone,
)

EARLIEST_BIRTH = date(1900, 1, 1)

# The upper bound (exclusive) of each band of the contract's vocabulary, youngest first.
_BANDS = (
    (18, AgeBand.UNDER_18),
    (26, AgeBand.FROM_18_TO_25),
    (36, AgeBand.FROM_26_TO_35),
    (51, AgeBand.FROM_36_TO_50),
    (66, AgeBand.FROM_51_TO_65),
)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def age_band(birth_date: date | None, birth_year: int | None, today: date) -> AgeBand | None:
    """The contract's age band, or None when the birth is unknown.

    With only a year, the person is taken as born on its last day, the youngest they
    can be: whoever may be a minor is counted (and protected) as one.
    """

    if birth_date is not None:
        age = age_on(birth_date, today)
    elif birth_year is not None:
        age = age_on(date(birth_year, 12, 31), today)
    else:
        return None
    age = max(age, 0)
    return next((band for upper, band in _BANDS if age < upper), AgeBand.OVER_65)


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    city: str
    country: str
    postal_code: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "postal_code": self.postal_code,
            "city": self.city,
            "country": self.country,
        }

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Address:
        return cls(
            lines=tuple(value["lines"]),
            city=value["city"],
            country=value["country"],
            postal_code=value.get("postal_code"),
        )


@dataclass(frozen=True)
class Person:
    # In clear: what statistics and reminders need, too coarse to identify anyone.
    gender: Gender = Gender.NOT_STATED
    nationalities: tuple[str, ...] = ()
    stateless: bool | None = None
    unaccompanied_minor: bool | None = None
    languages: tuple[str, ...] = ()
    preferred_language: str | None = None
    timezone: str | None = None
    # Sealed under the person's own key.
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    birth_year: int | None = None
    phone: str | None = None
    email: str | None = None
    address: Address | None = None

    def age_band(self, today: date) -> AgeBand | None:
        return age_band(self.birth_date, self.birth_year, today)

    def personal_data(self) -> dict[str, Any]:
        """The JSON object sealed under the person's key (absent values left out)."""

        values: dict[str, Any] = {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "birth_year": self.birth_year,
            "phone": self.phone,
            "email": self.email,
            "address": self.address.as_json() if self.address else None,
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def restore(cls, clear: Mapping[str, Any], personal: Mapping[str, Any]) -> Person:
        """A stored person: clear columns plus the opened personal data."""

        birth_date = personal.get("birth_date")
        address = personal.get("address")
        return cls(
            gender=Gender(clear["gender"]),
            nationalities=tuple(clear["nationalities"]),
            stateless=clear["stateless"],
            unaccompanied_minor=clear["unaccompanied_minor"],
            languages=tuple(clear["languages"]),
            preferred_language=clear["preferred_language"],
            timezone=clear["timezone"],
            given_name=personal.get("given_name"),
            family_name=personal.get("family_name"),
            birth_date=date.fromisoformat(birth_date) if birth_date else None,
            birth_year=personal.get("birth_year"),
            phone=personal.get("phone"),
            email=personal.get("email"),
            address=Address.of(address) if address else None,
        )


CHANGEABLE = frozenset(f.name for f in dataclasses.fields(Person))


def apply(current: Person, changes: Mapping[str, Any], *, phone_region: str, today: date) -> Person:
    """``current`` with ``changes`` (field -> new value, None clears) validated and applied.

    Raises :class:`InvalidField` naming the first field that cannot be accepted.
    """

    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise InvalidField(sorted(unknown)[0], "not a field of a person")
    values = {name: _normalised(name, value, phone_region, today) for name, value in changes.items()}
    # A birth date and a birth year are two precisions of one fact: one replaces the other.
    if values.get("birth_date") is not None and values.get("birth_year") is not None:
        raise InvalidField("birth_year", "give either birth_date or birth_year, not both")
    if values.get("birth_date") is not None:
        values["birth_year"] = None
    elif values.get("birth_year") is not None:
        values["birth_date"] = None
    person = dataclasses.replace(current, **values)
    if not (person.given_name or person.family_name):
        raise InvalidField("family_name", "a person needs a family name or a given name")
    if person.stateless and person.nationalities:
        raise InvalidField("stateless", "a stateless person has no nationality")
    if person.preferred_language and person.preferred_language not in person.languages:
        # The language someone wants their messages in is one they speak.
        person = dataclasses.replace(person, languages=(*person.languages, person.preferred_language))
    return person


def _normalised(name: str, value: Any, phone_region: str, today: date) -> Any:
    if value is None:
        if name in {"gender", "nationalities", "languages"}:
            raise InvalidField(name, "cannot be null")
        return None
    match name:
        case "gender":
            return Gender(value)
        case "nationalities":
            return _unique(normalise_country(code, name) for code in value)
        case "languages":
            return _unique(normalise_language(tag, name) for tag in value)
        case "preferred_language":
            return normalise_language(value, name)
        case "timezone":
            return check_timezone(value)
        case "phone":
            return normalise_phone(value, phone_region)
        case "email":
            return normalise_email(value)
        case "given_name" | "family_name":
            text = " ".join(str(value).split())
            if not text:
                raise InvalidField(name, "cannot be blank")
            return text
        case "birth_date":
            if not EARLIEST_BIRTH <= value <= today:
                raise InvalidField(name, f"must be between {EARLIEST_BIRTH} and today")
            return value
        case "birth_year":
            if not EARLIEST_BIRTH.year <= value <= today.year:
                raise InvalidField(name, f"must be between {EARLIEST_BIRTH.year} and this year")
            return value
        case "address":
            address = value if isinstance(value, Address) else Address.of(value)
            return dataclasses.replace(address, country=normalise_country(address.country, "address.country"))
        case _:
            return value


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
