"""How long an SMS is, as a network counts it: encoding, code units and segments. Pure.

- GSM-7 (3GPP TS 23.038): the basic table costs one septet per character, the extension
  table (``^ { } [ ] ~ \\ | €`` and form feed) two (escape + character). One segment holds
  160 septets; a concatenated message 153 per segment (the user-data header takes 7).
  An escape pair is never split across two segments, so a segment may hold 152.
- UCS-2 as soon as one character is outside both tables (Arabic, ``ç``, ``ê``, ``á``,
  typographic quotes...): 70 UTF-16 code units in one segment, 67 per concatenated
  segment. A character outside the BMP (emoji) is a surrogate pair: two units, never split.

Before counting, :func:`fold_typography` replaces the typographic characters that templates
and babel emit (``’``, non-breaking spaces, dashes...) with their GSM-7 equivalent, so that
one apostrophe does not halve the room. Letters are never changed: ``é`` is GSM-7, ``ê``
forces UCS-2, and a reader's language is spelt as it is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7 = GSM7_BASIC | GSM7_EXTENSION

SINGLE = {"gsm7": 160, "ucs2": 70}
CONCATENATED = {"gsm7": 153, "ucs2": 67}
MAX_SEGMENTS = 2

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u2013": "-",  # –
        "\u2014": "-",  # —
        "\u2026": "...",  # …
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space (CLDR puts it before AM/PM, French ":")
        "\u2009": " ",  # thin space
    }
)
_TYPOGRAPHIC = frozenset(map(chr, _TYPOGRAPHY))


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class SmsLength:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    @property
    def fits(self) -> bool:
        return self.segments <= MAX_SEGMENTS


def fold_typography(text: str) -> str:
    """Typographic punctuation and spaces as their plain equivalents (never letters)."""

    # Most bodies have none: a set check (in C) spares translating them character by character.
    return text if _TYPOGRAPHIC.isdisjoint(text) else text.translate(_TYPOGRAPHY)


def encoding_of(text: str) -> Encoding:
    return Encoding.GSM7 if GSM7.issuperset(text) else Encoding.UCS2


def _costs(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def measure(text: str) -> SmsLength:
    """Encoding, length in code units and number of segments of ``text`` as it is."""

    encoding = encoding_of(text)
    # The units counted in C; the costs character by character only for a long message.
    if encoding is Encoding.GSM7:
        units = len(text) + sum(text.count(c) for c in GSM7_EXTENSION)
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units == 0:
        return SmsLength(encoding, 0, 1)
    if units <= SINGLE[encoding]:
        return SmsLength(encoding, units, 1)
    room = CONCATENATED[encoding]
    if units == len(text):
        # Every character costs one unit (no escape or surrogate pair): nothing can be
        # split, so the segments are full but for the last; the loop below gives the same.
        return SmsLength(encoding, units, math.ceil(units / room))
    costs = _costs(text, encoding)
    segments, used = 1, 0
    for cost in costs:  # a character (escape pair, surrogate pair) is never split
        if used + cost > room:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, units, segments)
