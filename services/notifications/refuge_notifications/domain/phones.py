"""Phone numbers without keeping them: E.164 and a keyed hash of it. Pure.

The contact read-model never stores a phone number in clear. To recognise who sends
"STOP", it keeps ``HMAC-SHA256(secret, E.164 number)``: without the secret the hash cannot
be reversed by trying every number (there are only ~10^10 per country).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def to_e164(raw: str | None) -> str | None:
    """``raw`` as E.164 if it already names its country (``+33...`` or ``0033...``), else None.

    Intake normalises numbers when it records them; providers send E.164 in ``From``.
    A number without its country cannot be matched safely, so it is not guessed.
    """

    if not raw:
        return None
    number = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if _E164.match(number) else None


def phone_hash(secret: bytes, e164: str) -> bytes:
    return hmac.new(secret, e164.encode(), hashlib.sha256).digest()


# Replies that mean "stop sending me messages", compared after case folding and without
# accents or punctuation. The first word decides ("STOP merci" stops).
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "arret",  # ARRÊT
        "arreter",
        "desabonner",
        "baja",
        "alto",
        "parar",
        "توقف",
        "قف",
        "الغاء",
        "إلغاء",
    }
)


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if unicodedata.category(c)[0] in {"L", "N"})


_STOP = frozenset(_plain(word) for word in STOP_WORDS)


def is_stop_request(body: str | None) -> bool:
    words = (body or "").split()
    return bool(words) and (_plain(words[0]) in _STOP or _plain(" ".join(words)) == "stopsms")
