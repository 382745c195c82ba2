from __future__ import annotations

from datetime import date

import pytest

from refuge_common.contract.vocabulary import AgeBand, Gender
from refuge_intake.domain.normalise import (
    InvalidField,
    check_timezone,
    normalise_country,
    normalise_email,
    normalise_language,
    normalise_phone,
    phone_region,
)
from refuge_intake.domain.persons import Address, Person, age_band, apply

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(2008, 6, 2), AgeBand.UNDER_18),  # 18 tomorrow
        (date(2008, 6, 1), AgeBand.FROM_18_TO_25),  # 18 today
        (date(2000, 6, 2), AgeBand.FROM_18_TO_25),
        (date(2000, 6, 1), AgeBand.FROM_26_TO_35),
        (date(1990, 6, 2), AgeBand.FROM_26_TO_35),
        (date(1990, 6, 1), AgeBand.FROM_36_TO_50),
        (date(1975, 6, 2), AgeBand.FROM_36_TO_50),
        (date(1975, 6, 1), AgeBand.FROM_51_TO_65),
        (date(1960, 6, 2), AgeBand.FROM_51_TO_65),
        (date(1960, 6, 1), AgeBand.OVER_65),
        (date(2026, 5, 31), AgeBand.UNDER_18),
    ],
)
def test_age_band_from_a_birth_date_changes_on_the_birthday(birth: date, band: AgeBand) -> None:
    assert age_band(birth, None, TODAY) is band


def test_born_on_29_february_comes_of_age_on_1_march() -> None:
    assert age_band(date(2008, 2, 29), None, date(2026, 2, 28)) is AgeBand.UNDER_18
    assert age_band(date(2008, 2, 29), None, date(2026, 3, 1)) is AgeBand.FROM_18_TO_25


def test_with_only_a_birth_year_a_possible_minor_counts_as_one() -> None:
    # Born in 2008: 17 or 18 on 1 June 2026; the youngest reading wins.
    assert age_band(None, 2008, TODAY) is AgeBand.UNDER_18
    assert age_band(None, 2008, date(2026, 12, 31)) is AgeBand.FROM_18_TO_25
    assert age_band(None, 2007, TODAY) is AgeBand.FROM_18_TO_25
    assert age_band(None, 2026, TODAY) is AgeBand.UNDER_18


def test_no_birth_no_band() -> None:
    assert age_band(None, None, TODAY) is None


@pytest.mark.parametrize(
    ("jurisdiction", "region"),
    [
        ("FR", "FR"),
        ("FR-976", "YT"),
        ("FR-974", "RE"),
        ("FR-971", "GP"),
        ("FR-972", "MQ"),
        ("FR-973", "GF"),
        ("FR-NC", "NC"),
        ("FR-75", "FR"),
        ("US", "US"),
        ("US-NY", "US"),
        ("US-PR", "PR"),
        ("fr-976", "YT"),
    ],
)
def test_phone_region_from_jurisdiction(jurisdiction: str, region: str) -> None:
    assert phone_region(jurisdiction) == region


def test_phones_are_normalised_to_e164_in_the_offices_region() -> None:
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalise_phone("0639 01 23 45", phone_region("FR-976")) == "+262639012345"
    assert normalise_phone("(201) 555-0123", "US") == "+12015550123"
    # A number with its country code is read as such wherever the office is.
    assert normalise_phone("+1 201 555 0123", "FR") == "+12015550123"


@pytest.mark.parametrize("raw", ["12", "call me maybe", "06 12 34", "0639 01 23 45"])
def test_bad_phones_are_refused_without_quoting_them(raw: str) -> None:
    with pytest.raises(InvalidField) as refused:
        normalise_phone(raw, "FR")
    assert refused.value.field == "phone"
    assert raw not in str(refused.value)


def test_emails_are_normalised_without_asking_dns() -> None:
    assert normalise_email("Amina.Haddad@Example.ORG") == "Amina.Haddad@example.org"
    for raw in ["amina@", "amina.example.org", "a@b.test", "amina@localhost"]:
        with pytest.raises(InvalidField, match=r"^email: ") as refused:
            normalise_email(raw)
        assert raw not in str(refused.value)


def test_language_tags_are_checked_against_cldr_and_normalised() -> None:
    assert normalise_language("FR", "languages") == "fr"
    assert normalise_language("ar_sy", "languages") == "ar-SY"
    assert normalise_language("zh-hant-tw", "languages") == "zh-Hant-TW"
    assert normalise_language("snk", "languages") == "snk"  # Soninke: no locale data, still a language
    assert normalise_language("fa-AF", "languages") == "fa-AF"
    for bad in ["xx", "en-ZZ9", "en-QQ", "english", "fr-Xxxx", ""]:
        with pytest.raises(InvalidField, match=r"^languages: "):
            normalise_language(bad, "languages")


def test_countries_are_iso_3166_alpha_2() -> None:
    assert normalise_country("sy", "nationalities") == "SY"
    assert normalise_country("XK", "nationalities") == "XK"
    for bad in ["EU", "UN", "ZZ", "SYR", "1", "QQ"]:
        with pytest.raises(InvalidField, match=r"^nationalities: "):
            normalise_country(bad, "nationalities")


def test_time_zones_must_exist() -> None:
    assert check_timezone("Indian/Mayotte") == "Indian/Mayotte"
    for bad in ["Europe/Atlantis", "CEST", "../etc/passwd"]:
        with pytest.raises(InvalidField, match=r"^timezone: "):
            check_timezone(bad)


def _register(**changes: object) -> Person:
    return apply(Person(), changes, phone_region="FR", today=TODAY)


def test_registration_normalises_and_adds_the_preferred_language_to_the_spoken_ones() -> None:
    person = _register(
        given_name="  Amina ",
        family_name="Haddad  Ben  Ali",
        gender="female",
        nationalities=["sy", "SY", "lb"],
        languages=["ar"],
        preferred_language="FR",
        phone="06 12 34 56 78",
        email="Amina@Example.org",
        address={"lines": ["1 rue de la Paix"], "city": "Paris", "country": "fr"},
    )
    assert person.given_name == "Amina" and person.family_name == "Haddad Ben Ali"
    assert person.gender is Gender.FEMALE
    assert person.nationalities == ("SY", "LB")
    assert person.languages == ("ar", "fr")
    assert person.phone == "+33612345678" and person.email == "Amina@example.org"
    assert person.address == Address(lines=("1 rue de la Paix",), city="Paris", country="FR")
    assert "phone" in person.personal_data() and "gender" not in person.personal_data()


def test_a_person_round_trips_through_clear_columns_and_sealed_data() -> None:
    person = _register(
        family_name="Haddad", birth_date=date(2010, 5, 1), nationalities=["SY"], unaccompanied_minor=True
    )
    clear = {
        "gender": person.gender.value,
        "nationalities": list(person.nationalities),
        "stateless": None,
        "unaccompanied_minor": True,
        "languages": [],
        "preferred_language": None,
        "timezone": None,
    }
    assert Person.restore(clear, person.personal_data()) == person


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gender": "female"}, "family_name"),  # no name at all
        ({"family_name": "   "}, "family_name"),
        ({"family_name": "X", "birth_date": date(2027, 1, 1)}, "birth_date"),
        ({"family_name": "X", "birth_year": 1850}, "birth_year"),
        ({"family_name": "X", "birth_date": date(1990, 1, 1), "birth_year": 1990}, "birth_year"),
        ({"family_name": "X", "stateless": True, "nationalities": ["SY"]}, "stateless"),
        ({"family_name": "X", "gender": None}, "gender"),
        ({"family_name": "X", "address": {"lines": ["x"], "city": "y", "country": "EU"}}, "address.country"),
        ({"family_name": "X", "shoe_size": 42}, "shoe_size"),
    ],
)
def test_invalid_records_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        _register(**changes)
    assert refused.value.field == field


def test_an_update_changes_only_what_it_names_and_a_birth_year_replaces_a_date() -> None:
    person = _register(
        given_name="Amina", family_name="Haddad", birth_date=date(1990, 5, 1), phone="0612345678"
    )
    updated = apply(person, {"birth_year": 1991, "email": None}, phone_region="FR", today=TODAY)
    assert updated.birth_date is None and updated.birth_year == 1991
    assert updated.phone == person.phone and updated.given_name == "Amina"
    cleared = apply(updated, {"phone": None}, phone_region="FR", today=TODAY)
    assert cleared.phone is None
    with pytest.raises(InvalidField, match="family_name"):
        apply(person, {"given_name": None, "family_name": None}, phone_region="FR", today=TODAY)
