"""Checking and normalising what a caseworker types: phones, e-mails, languages, countries, zones.

Pure functions: no I/O (the e-mail check never asks DNS). Each failure names its field
and never repeats the value, so that an error message can be shown or logged safely.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email


class InvalidField(ValueError):
    """A value that cannot be accepted; ``field`` names it, the message never quotes it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# Jurisdictions whose telephones have their own numbering plan (phonenumbers region),
# by ISO 3166-2 code and, for the overseas departments and collectivities, by the INSEE
# number the rest of Refuge uses (FR-976). Any other jurisdiction dials like its country.
_PHONE_REGIONS = {
    "FR-971": "GP",
    "FR-972": "MQ",
    "FR-973": "GF",
    "FR-974": "RE",
    "FR-975": "PM",
    "FR-976": "YT",
    "FR-977": "BL",
    "FR-978": "MF",
    "FR-986": "WF",
    "FR-987": "PF",
    "FR-988": "NC",
    "FR-PM": "PM",
    "FR-BL": "BL",
    "FR-MF": "MF",
    "FR-WF": "WF",
    "FR-PF": "PF",
    "FR-NC": "NC",
    "US-PR": "PR",
    "US-GU": "GU",
    "US-VI": "VI",
    "US-AS": "AS",
    "US-MP": "MP",
}


def phone_region(jurisdiction: str) -> str:
    """The region a phone number written without +country code is read in (FR-976 -> YT)."""

    code = jurisdiction.strip().upper()
    return _PHONE_REGIONS.get(code, code.split("-", 1)[0])


def normalise_phone(raw: str, region: str) -> str:
    """E.164 (+33612345678); a national number is read in ``region``."""

    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidField("phone", "not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        international = raw.strip().startswith(("+", "00"))
        hint = "" if international else f" (without +country code, it is read as a number of {region})"
        raise InvalidField("phone", f"not a valid phone number{hint}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    try:
        # No deliverability check: it asks DNS, and a beneficiary's provider being
        # unreachable today is no reason to refuse the address.
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as error:
        # The validator's message may quote the domain; ours does not.
        raise InvalidField("email", "not a valid e-mail address") from error


@functools.cache
def _cldr() -> Locale:
    return Locale("en")


_SUBTAGS = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")


def normalise_language(tag: str, field: str) -> str:
    """A BCP 47 language[-Script][-REGION] tag known to CLDR (through babel), normalised.

    Checked against CLDR's names of languages rather than ``Locale.parse``: locales
    without formatting data (Soninke ``snk``, Tigre ``tig``) are still languages people
    speak, and ``Locale.parse`` silently swaps an unknown region for a likely one.
    """

    match = _SUBTAGS.match(tag.strip())
    if match is None:
        raise InvalidField(field, "not a language tag such as fr, ar-SY or zh-Hant")
    language, script, region = match.group(1).lower(), match.group(2), match.group(3)
    cldr = _cldr()
    if language not in cldr.languages:
        raise InvalidField(field, "unknown language code")
    parts = [language]
    if script is not None:
        script = script.title()
        if script not in cldr.scripts:
            raise InvalidField(field, "unknown script code")
        parts.append(script)
    if region is not None:
        region = region.upper()
        if region not in cldr.territories:
            raise InvalidField(field, "unknown region code")
        parts.append(region)
    return "-".join(parts)


# CLDR territory codes of two letters that are not countries of ISO 3166-1 (groupings,
# pseudo-locales, exceptional reservations). XK (Kosovo) is user-assigned in ISO but
# is what documents and registries use: a nationality people have, so it is kept.
_NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
)


def normalise_country(code: str, field: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper case."""

    value = code.strip().upper()
    if len(value) != 2 or not value.isalpha() or value in _NOT_COUNTRIES or value not in _cldr().territories:
        raise InvalidField(field, "not an ISO 3166-1 alpha-2 country code")
    return value


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    value = name.strip()
    if value not in _zones():
        raise InvalidField("timezone", "unknown IANA time zone (e.g. Europe/Paris)")
    return value
