"""Signed things: Twilio's request signature, unsubscribe tokens, derived secrets. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeSerializer


def derive_secret(master_key_b64: str, purpose: str) -> bytes:
    """A 32-byte secret for one purpose, derived from the master key (HKDF-SHA256), for
    the settings left unset: one secret to keep, and rotating it rotates these."""

    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"refuge.notifications.{purpose}".encode()
    ).derive(base64.b64decode(master_key_b64))


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, URL + each name and value,
    names sorted, repeated values sorted and deduplicated))."""

    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port added or removed (Twilio signs the URL it
    called; a proxy may show it with or without the port)."""

    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None:
        return [url]
    if parts.port == default:
        other = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    elif parts.port is None:
        other = urlunsplit((parts.scheme, f"{host}:{default}", parts.path, parts.query, parts.fragment))
    else:
        return [url]
    return [url, other]


def valid_twilio_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    if not signature:
        return False
    items = list(params)
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, items), signature)
        for candidate in _url_variants(url)
    )


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: UUID
    person_id: UUID
    channel: str
    language: str


class UnsubscribeTokens:
    """Signed (not encrypted) tokens of the unsubscribe links: they carry only random ids
    and a language. They do not expire: a link in a months-old e-mail still works."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt="refuge.notifications.unsubscribe.v1")

    def issue(self, tenant_id: UUID, person_id: UUID, language: str, channel: str = "email") -> str:
        return str(self._serializer.dumps([str(tenant_id), str(person_id), channel, language]))

    def read(self, token: str) -> Unsubscribe | None:
        try:
            tenant, person, channel, language = self._serializer.loads(token)
            return Unsubscribe(UUID(tenant), UUID(person), str(channel), str(language))
        except (BadSignature, ValueError, TypeError):
            return None
