"""SMS providers over HTTP (httpx): a generic JSON webhook and a Twilio-compatible API.

At most once per (event, recipient, channel), as for e-mail: ``before_send`` commits
*sending* just before the request; then

- a connection that could not be made (``ConnectError``, ``ConnectTimeout``, no pooled
  connection free) never carried the request: temporary, retried later;
- any other transport error (read/write timeout, disconnect, protocol error) may have
  happened after the provider took the message: the outcome is unknown, never re-sent;
- a reply is the provider's decision: 2xx sent; 429, 408 and 5xx temporary (``Retry-After``
  honoured); any other 4xx permanent.

The generic webhook receives ``{"to", "body", "idempotency_key"}`` and the key again as an
``Idempotency-Key`` header: a provider that honours it drops a duplicate. Twilio's Messages
API has no idempotency key (its ``I-Twilio-Idempotency-Token`` is a header Twilio sends *to*
webhooks, not one it reads): with Twilio the state machine alone keeps a message single.
Both are told who calls (``User-Agent``): a provider's logs and support then see Refuge, not
the HTTP library.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from refuge_common.contract.vocabulary import FailureReason
from refuge_notifications.adapters.http_transport import LeanClient
from refuge_notifications.adapters.outcomes import (
    BeforeSend,
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)

WEBHOOK = "webhook"
TWILIO = "twilio"
KINDS = (WEBHOOK, TWILIO)
TWILIO_API = "https://api.twilio.com"
# Twilio error codes that mean the number itself is wrong (not a temporary refusal).
TWILIO_INVALID_RECIPIENT = frozenset({"21211", "21614", "21612", "21408"})
RETRY_AFTER_CEILING = 900.0

USER_AGENT = b"Refuge-SMS/1"


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    idempotency_key: str


@dataclass(frozen=True)
class ProviderConfig:
    """One organisation's provider. ``secrets`` are opened from their seal only to send
    or to check an inbound call; they are never logged (``repr=False``)."""

    kind: str
    url: str  # the webhook's URL, or the Twilio API base
    account_sid: str | None = None
    sender: str | None = None  # Twilio "From": a number, an alphanumeric id, or MG... service
    display_name: str | None = None  # the name SMS bodies carry, if not the organisation's
    rate_per_second: int | None = None  # the provider's limit for this account; None: the default
    rate_key: str = "sms:default"  # which account the rate limit counts against
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def inbound_secret(self) -> str | None:
        return self.secrets.get("inbound_secret")

    @property
    def auth_token(self) -> str | None:
        return self.secrets.get("auth_token")


class SmsProvider(Protocol):
    name: str

    async def send(self, message: SmsMessage, before_send: BeforeSend | None = None) -> str | None:
        """Hand the message over; the provider's id for it (delivery receipts name it)."""


class _Answer(Protocol):
    """What is read of a reply: ``httpx.Response``'s, or ``http_transport.Reply``'s."""

    @property
    def status_code(self) -> int: ...

    @property
    def is_success(self) -> bool: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def _retry_after(response: _Answer) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return min(RETRY_AFTER_CEILING, max(0.0, float(value)))
    return None


def _json(response: _Answer) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _exchange(
    client: httpx.AsyncClient,
    url: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    before_send: BeforeSend | None,
) -> _Answer:
    # Built (and so checked) before anything is committed or sent.
    send: Callable[[], Awaitable[_Answer]]
    if isinstance(client, LeanClient):  # the dispatcher's: the same exchange, lighter
        send = functools.partial(client.send_small, client.build_small(url, headers, body))
    else:
        request = client.build_request("POST", url, content=body, headers=headers)
        send = functools.partial(client.send, request)
    if before_send is not None and not await before_send():
        raise ClaimLost
    try:
        return await send()
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        raise TemporaryFailure(type(error).__name__) from error  # the request never left
    except httpx.TransportError as error:
        raise OutcomeUnknown(type(error).__name__) from error


def _refusal(response: _Answer, provider_code: str | None) -> Exception:
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return TemporaryFailure(f"http {status}", retry_after=_retry_after(response))
    reason = FailureReason.REJECTED_BY_PROVIDER
    if provider_code in TWILIO_INVALID_RECIPIENT:
        reason = FailureReason.INVALID_RECIPIENT
    return PermanentFailure(f"http {status}", reason=reason, provider_code=provider_code or str(status))


class WebhookProvider:
    """POST JSON ``{"to", "body", "idempotency_key"}`` (and ``status_callback`` when the
    service has a public URL) to the organisation's URL."""

    name = "sms-webhook"

    def __init__(
        self, client: httpx.AsyncClient, config: ProviderConfig, status_callback: str | None = None
    ) -> None:
        self._client = client
        self._config = config
        self._status_callback = status_callback

    async def send(self, message: SmsMessage, before_send: BeforeSend | None = None) -> str | None:
        payload: dict[str, str] = {
            "to": message.to,
            "body": message.body,
            "idempotency_key": message.idempotency_key,
        }
        if self._status_callback:
            payload["status_callback"] = self._status_callback
        headers = [
            (b"content-type", b"application/json"),
            (b"idempotency-key", message.idempotency_key.encode()),
            (b"user-agent", USER_AGENT),
        ]
        token = self._config.secrets.get("token")
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        response = await _exchange(self._client, self._config.url, headers, content, before_send)
        body = _json(response)
        if not response.is_success:
            code = body.get("code")
            raise _refusal(response, str(code) if code is not None else None)
        identifier = body.get("id") or body.get("message_id") or body.get("sid")
        return str(identifier) if identifier else None


class TwilioProvider:
    """Twilio's Messages API (or any compatible one): form ``To``/``From``/``Body`` to
    ``/2010-04-01/Accounts/{sid}/Messages.json`` with basic auth ``sid:auth token``."""

    name = "twilio"

    def __init__(
        self, client: httpx.AsyncClient, config: ProviderConfig, status_callback: str | None = None
    ) -> None:
        if not config.account_sid or not config.auth_token or not config.sender:
            raise ValueError("a Twilio provider needs an account SID, an auth token and a sender")
        self._client = client
        self._config = config
        self._status_callback = status_callback

    async def send(self, message: SmsMessage, before_send: BeforeSend | None = None) -> str | None:
        config = self._config
        assert config.account_sid and config.auth_token and config.sender
        form = {"To": message.to, "Body": message.body}
        if config.sender.startswith("MG"):
            form["MessagingServiceSid"] = config.sender
        else:
            form["From"] = config.sender
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        url = f"{config.url.rstrip('/')}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        credentials = base64.b64encode(f"{config.account_sid}:{config.auth_token}".encode()).decode()
        headers = [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"authorization", f"Basic {credentials}".encode()),
            (b"user-agent", USER_AGENT),
        ]
        response = await _exchange(self._client, url, headers, urlencode(form).encode(), before_send)
        body = _json(response)
        if not response.is_success:
            code = body.get("code")
            raise _refusal(response, str(code) if code is not None else None)
        sid = body.get("sid")
        return str(sid) if sid else None


def provider_for(
    client: httpx.AsyncClient, config: ProviderConfig, status_callback: str | None = None
) -> SmsProvider:
    if config.kind == TWILIO:
        return TwilioProvider(client, config, status_callback)
    if config.kind == WEBHOOK:
        return WebhookProvider(client, config, status_callback)
    raise ValueError(f"unknown SMS provider kind {config.kind!r}")
