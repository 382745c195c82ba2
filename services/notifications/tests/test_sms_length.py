"""SMS length as a network counts it: GSM-7 (basic + extension) or UCS-2, and segments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_notifications.domain.sms_length import Encoding, fold_typography, measure

GSM, UCS2 = Encoding.GSM7, Encoding.UCS2


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM, 0, 1),
        ("Bonjour", GSM, 7, 1),
        # é è à ù ì ò Ç are in the GSM-7 basic table
        ("délai expiré à 23 h 59, où ça", UCS2, 29, 1),  # ç (lower case) is not: UCS-2
        ("délai expiré à 23 h 59, où", GSM, 26, 1),
        ("Ç", GSM, 1, 1),
        # the extension table costs two septets each
        ("€", GSM, 2, 1),
        ("10 €", GSM, 5, 1),
        ("{}[]~\\|^", GSM, 16, 1),
        ("€" * 80, GSM, 160, 1),
        ("€" * 81, GSM, 162, 2),
        # single segment up to 160 septets, then 153 per segment
        ("a" * 160, GSM, 160, 1),
        ("a" * 161, GSM, 161, 2),
        ("a" * 306, GSM, 306, 2),
        ("a" * 307, GSM, 307, 3),
        ("a" * 459, GSM, 459, 3),
        # an escape pair is never split: 152 septets then "€" opens the second segment
        ("a" * 152 + "€" + "a" * 152, GSM, 306, 3),
        ("a" * 151 + "€" + "a" * 153, GSM, 306, 2),
        # anything outside both tables makes the whole message UCS-2: 70, then 67 per segment
        ("ê", UCS2, 1, 1),
        ("’", UCS2, 1, 1),
        ("ê" * 70, UCS2, 70, 1),
        ("ê" * 71, UCS2, 71, 2),
        ("ê" * 134, UCS2, 134, 2),
        ("ê" * 135, UCS2, 135, 3),
        ("a" * 133 + "ê", UCS2, 134, 2),
        # Arabic is UCS-2, always
        ("مرحبا", UCS2, 5, 1),
        ("تنتهي مهلة تقديم طعنك يوم الثلاثاء 7 أبريل 2026، الساعة 23:59", UCS2, 61, 1),
        ("ا" * 134, UCS2, 134, 2),
        # "€" in a UCS-2 message is one unit like any other character
        ("ê€", UCS2, 2, 1),
        # outside the BMP: a surrogate pair, two units, never split
        ("🙂", UCS2, 2, 1),
        ("a" * 66 + "🙂" + "a" * 66, UCS2, 134, 3),
        ("a" * 65 + "🙂" + "a" * 67, UCS2, 134, 2),
    ],
)
def test_encoding_units_and_segments(text: str, encoding: Encoding, units: int, segments: int) -> None:
    measured = measure(text)
    assert (measured.encoding, measured.units, measured.segments) == (encoding, units, segments)
    assert measured.fits == (segments <= 2)


def test_typography_is_folded_to_gsm_but_letters_are_kept() -> None:
    folded = fold_typography("l’aide « juridique » – 11:59\u202fPM…\u00a0ok")
    assert folded == 'l\'aide " juridique " - 11:59 PM... ok'
    assert measure(folded).encoding is GSM
    assert fold_typography("réexamen, sábado, ê") == "réexamen, sábado, ê"


def _segments_character_by_character(text: str) -> int:
    """The segments as a network fills them, one character (or pair) at a time."""

    length = measure(text)
    room = {GSM: 153, UCS2: 67}[length.encoding]
    if length.units <= {GSM: 160, UCS2: 70}[length.encoding]:
        return 1
    segments, used = 1, 0
    for character in text:
        if length.encoding is GSM:
            cost = 2 if character in "\f^{}\\[~]|€" else 1
        else:
            cost = 2 if ord(character) > 0xFFFF else 1
        if used + cost > room:
            segments, used = segments + 1, 0
        used += cost
    return segments


# Runs of plain letters reach the segment boundaries; the others cost two, or force UCS-2.
_PIECES = st.sampled_from(["a", "a" * 10, "a" * 50, "é", "€", "{", "ê", "مر", "🙂"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_segments_are_counted_as_character_by_character(text: str) -> None:
    # ``measure`` counts without a loop when no character costs two units: the same count.
    assert measure(text).segments == _segments_character_by_character(text)


def test_pairs_at_every_place_around_a_segment_boundary_are_counted_as_one_by_one() -> None:
    for special in ("€", "🙂", "ê"):
        for before in range(60, 160):
            for after in (10, 80, 152, 200):
                text = "a" * before + special + "a" * after
                assert measure(text).segments == _segments_character_by_character(text), text
