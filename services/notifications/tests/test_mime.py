"""The text parts of an e-mail are what the stdlib writes for them, byte for byte."""

from __future__ import annotations

from email.mime.nonmultipart import MIMENonMultipart

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_notifications.adapters.mime import _UTF8_QP, _text_part

TEXTS = [
    "",
    "Bonjour,\n\nLe délai se termine le mardi 7 avril 2026 à 23 h 59.\n",
    "تنتهي مهلة تقديم طعنك يوم الثلاثاء 7 أبريل 2026، الساعة 23:59\n",
    "a = b; 100% sûr\t \nFrom here\n.\n..\n",
    "x" * 200 + "é" * 90 + "\n" + "word " * 40 + "\n",
    "trailing spaces   \nand tabs\t\t\nCRLF\r\nend",
    '<p><a href="https://refuge.example/unsubscribe/abc.def-ghi_jkl">Ne plus recevoir</a></p>\n',
    "🙂 — « guillemets » ’ \u00a0\u202f\n",
]


def _as_the_stdlib_sets_it(subtype: str, text: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _UTF8_QP)
    return part


def _assert_same(subtype: str, text: str) -> None:
    ours, reference = _text_part(subtype, text), _as_the_stdlib_sets_it(subtype, text)
    assert ours.items() == reference.items()
    assert ours.get_payload() == reference.get_payload()
    assert ours.as_bytes() == reference.as_bytes()


@pytest.mark.parametrize("subtype", ["plain", "html"])
@pytest.mark.parametrize("text", TEXTS)
def test_a_text_part_is_what_set_payload_with_its_charset_writes(subtype: str, text: str) -> None:
    _assert_same(subtype, text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_part_is_what_set_payload_with_its_charset_writes(text: str) -> None:
    _assert_same("plain", text)
