"""Messages in the recipient's language, dates in their locale and time zone.

Templates are jinja2 files per kind and language (all wording lives in them, including
the purpose phrases of beneficiary reminders in ``beneficiary_phrases.<lang>.j2``);
dates are formatted by babel with the recipient's full locale when babel knows it
(``ar-SY`` writes "نيسان", ``ar`` "أبريل").

SMS bodies must fit in two segments (``sms_length``). When the full wording does not,
the short then the minimal variant of the template are tried, then all three again with
the organisation's name shortened to 20 characters;
a body that still does not fit is refused (:class:`SmsTooLong`), never cut: a cut message
may lose the date or the STOP instruction.

Reminders sent together share their words: a deadline is due at 23:59:59 local, so the
reminders that fire at one moment for one offset are about one instant. Dates and SMS
bodies are therefore kept in small LRU caches, keyed on everything the text depends on
(a body holds no personal data: organisation, purpose, date).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

from refuge_notifications.domain.sms_length import fold_typography, measure

LANGUAGES = ("fr", "en", "es", "ar")
RTL_LANGUAGES = frozenset({"ar"})
FALLBACK_LANGUAGE = "en"
# babel's "full" time carries seconds and the zone's long name; people read these.
DATETIME_PATTERNS = {
    "fr": "EEEE d MMMM y 'à' H 'h' mm",
    "en": "EEEE, MMMM d, y 'at' h:mm a",
    "es": "EEEE d 'de' MMMM 'de' y, H:mm",
    "ar": "EEEE d MMMM y، 'الساعة' HH:mm",
}
DATE_PATTERNS = {
    "fr": "EEEE d MMMM y",
    "en": "EEEE, MMMM d, y",
    "es": "EEEE d 'de' MMMM 'de' y",
    "ar": "EEEE d MMMM y",
}
PURPOSE_LABELS = {
    "fr": {
        "appeal": "recours",
        "hearing": "audience",
        "legal_aid_request": "demande d'aide juridictionnelle",
    },
    "en": {"appeal": "appeal", "hearing": "hearing", "legal_aid_request": "legal aid request"},
}
# Wordings of an SMS, longest first; the minimal one keeps the purpose, the date and "STOP".
SMS_VARIANTS = ("sms", "sms_short", "sms_minimal")
# The shortest an organisation's name may become to make an SMS fit.
SHORT_NAME_LENGTH = 20


class _FixedGlobalsEnvironment(Environment):
    """Templates whose globals are a plain dict instead of jinja's ChainMap over the
    environment's: each render copies the globals into its context and compares them
    with an imported template's, and over a ChainMap both run in Python: half the time
    of a render (an SMS body 64 -> 29 us, an e-mail's three parts 148 -> 63 us).
    The globals below are set once at import, before any template is loaded, and never
    change after (as jinja asks), so a copy taken at load reads the same."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


_environment = _FixedGlobalsEnvironment(
    loader=PackageLoader("refuge_notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    # Templates ship with the package and never change while it runs: no mtime check per use.
    auto_reload=False,
)
# A sentence starts with a capital, without lowering the rest ("Tuesday" stays).
_environment.filters["upper_first"] = lambda text: str(text)[:1].upper() + str(text)[1:]
# RIGHT-TO-LEFT MARK: an Arabic text that starts with a Latin name (the organisation's)
# still reads right to left.
_environment.globals["rlm"] = "\u200f"


class SmsTooLong(ValueError):
    """Even the short wording with a shortened sender name exceeds two segments."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


def language_for(preferred: str | None, fallback: str = FALLBACK_LANGUAGE) -> str:
    primary = (preferred or "").split("-")[0].lower()
    return primary if primary in LANGUAGES else fallback


@dataclass(frozen=True)
class Language:
    """The template language and the babel locale to write dates with."""

    code: str
    locale: str

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RTL_LANGUAGES else "ltr"


# A few distinct (tag, default) pairs; the Language is frozen, so sharing it is safe.
@functools.lru_cache(maxsize=256)
def beneficiary_language(preferred: str | None, organisation_default: str | None) -> Language:
    """The person's language if there are templates in it, else their organisation's,
    else English; dates in the person's full locale when it is that language."""

    for tag in (preferred, organisation_default):
        code = (tag or "").split("-")[0].lower()
        if code in LANGUAGES:
            return Language(code, _babel_locale(tag or code, code))
    return Language(FALLBACK_LANGUAGE, FALLBACK_LANGUAGE)


def _babel_locale(tag: str, code: str) -> str:
    try:
        return str(Locale.parse(tag, sep="-"))
    except (UnknownLocaleError, ValueError, TypeError):
        return code


def format_instant(
    instant: datetime, timezone: str, language: str, *, locale: str | None = None, with_time: bool = True
) -> str:
    patterns = DATETIME_PATTERNS if with_time else DATE_PATTERNS
    pattern = patterns.get(language, patterns[FALLBACK_LANGUAGE])
    # Keyed on the instant in UTC, not on ``instant`` as given: two datetimes of one zone
    # compare by wall time, so 02:30 before and after a clock change would be one key.
    # (babel reads a naive datetime as UTC already.)
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return _format(instant, timezone, pattern, locale or language)


# The text is a pure function of these four (the pattern stands for the language and
# whether the time is shown); 2,048 entries cover the instants of many batches.
@functools.lru_cache(maxsize=2048)
def _format(instant: datetime, timezone: str, pattern: str, locale: str) -> str:
    return format_datetime(instant, pattern, tzinfo=ZoneInfo(timezone), locale=_locale(locale))


# Parsing a locale reads its identifier every time; a handful are used (and babel's
# Locale objects are not changed once loaded).
@functools.lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def render_email(template: str, language: str, context: dict[str, object]) -> RenderedEmail:
    try:
        parts = [
            _environment.get_template(f"{template}.{language}.{part}.j2").render(**context)
            for part in ("subject", "txt", "html")
        ]
    except TemplateNotFound:
        if language == FALLBACK_LANGUAGE:
            raise
        return render_email(template, FALLBACK_LANGUAGE, context)
    subject = " ".join(parts[0].split())
    return RenderedEmail(subject=subject, text=parts[1], html=parts[2], language=language)


def render_page(template: str, language: str, context: dict[str, object]) -> str:
    """An HTML page shown to a recipient (the unsubscribe pages), in their language."""

    code = language if language in LANGUAGES else FALLBACK_LANGUAGE
    return _environment.get_template(f"{template}.{code}.html.j2").render(**context)


def shortened_names(name: str) -> list[str]:
    """The organisation's name, then shorter forms of it, to make an SMS fit."""

    names = [name]
    if len(name) > SHORT_NAME_LENGTH:
        names.append(name[: SHORT_NAME_LENGTH - 1].rstrip(" '-,.") + ".")
    return names


def render_sms(template: str, language: str, context: Mapping[str, object]) -> str:
    """The SMS body in at most two segments (see the module's docstring)."""

    # Only text values are cached: two equal strings are the same text, while 1, 1.0 and
    # True are equal keys that a template would write differently.
    if all(type(value) is str for value in context.values()):
        return _cached_sms(template, language, frozenset(context.items()))
    return _render_sms(template, language, context)


# Keyed on the template, the language and every value the template reads (the whole
# context, whatever its order); a refusal (SmsTooLong) is raised again, never cached.
@functools.lru_cache(maxsize=1024)
def _cached_sms(template: str, language: str, context: frozenset[tuple[str, object]]) -> str:
    return _render_sms(template, language, dict(context))


def _render_sms(template: str, language: str, context: Mapping[str, object]) -> str:
    organisation = str(context["organisation"])
    for name in shortened_names(organisation):
        for variant in SMS_VARIANTS:
            rendered = _environment.get_template(f"{template}.{language}.{variant}.j2").render(
                **{**context, "organisation": name}
            )
            body = " ".join(fold_typography(rendered).split())
            if measure(body).fits:
                return body
    raise SmsTooLong(f"{template}.{language} exceeds two segments")
