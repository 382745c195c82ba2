"""Messages in the recipient's language, dates in their locale and time zone.

Templates are jinja2 files per kind and language; dates are formatted by babel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

LANGUAGES = ("fr", "en")
FALLBACK_LANGUAGE = "en"
# babel's "full" time carries seconds and the zone's long name; people read these.
DATETIME_PATTERNS = {
    "fr": "EEEE d MMMM y 'à' H 'h' mm",
    "en": "EEEE, MMMM d, y 'at' h:mm a",
}
PURPOSE_LABELS = {
    "fr": {
        "appeal": "recours",
        "hearing": "audience",
        "legal_aid_request": "demande d'aide juridictionnelle",
    },
    "en": {"appeal": "appeal", "hearing": "hearing", "legal_aid_request": "legal aid request"},
}

_environment = Environment(
    loader=PackageLoader("refuge_notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


def language_for(preferred: str | None, fallback: str = FALLBACK_LANGUAGE) -> str:
    primary = (preferred or "").split("-")[0].lower()
    return primary if primary in LANGUAGES else fallback


def format_instant(instant: datetime, timezone: str, language: str) -> str:
    pattern = DATETIME_PATTERNS.get(language, DATETIME_PATTERNS[FALLBACK_LANGUAGE])
    return format_datetime(instant, pattern, tzinfo=ZoneInfo(timezone), locale=language)


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
    return RenderedEmail(subject=parts[0].strip(), text=parts[1], html=parts[2], language=language)
