"""E-mail over SMTP with aiosmtplib: multipart text + HTML, stable Message-ID."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiosmtplib

from refuge_notifications.adapters.mime import OutgoingEmail, build_email
from refuge_notifications.adapters.outcomes import (
    BeforeSend,
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)
from refuge_notifications.domain.rendering import RenderedEmail

__all__ = [
    "BeforeData",
    "ClaimLost",
    "OutcomeUnknown",
    "OutgoingEmail",
    "PermanentFailure",
    "SmtpSender",
    "TemporaryFailure",
]


BeforeData = BeforeSend


class _DataPhaseAwareSMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, with a hook just before the message itself goes out (DATA):
    until then nothing can have been delivered; only a failure after it leaves the
    outcome unknown."""

    def __init__(self, before_data: BeforeData | None, **options: Any) -> None:
        super().__init__(**options)
        self._before_data = before_data
        self.data_started = False

    def prepare(self, before_data: BeforeData | None) -> None:
        """Ready for the next message of a (possibly reused) session."""

        self._before_data = before_data
        self.data_started = False

    async def data(self, message: str | bytes, /, **options: Any) -> aiosmtplib.SMTPResponse:
        if self._before_data is not None and not await self._before_data():
            raise ClaimLost
        self.data_started = True
        return await super().data(message, **options)


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: int = 30,
        pool_size: int = 4,
    ) -> None:
        # Seconds per SMTP step; a send's lease outlives it, so that no other dispatcher
        # declares a send abandoned while this one still waits for the server's reply.
        self.timeout = timeout
        self._options = {
            "hostname": host,
            "port": port,
            "username": username,
            "password": password,
            "start_tls": starttls,
            "use_tls": use_tls,
            "timeout": self.timeout,
        }
        self._sender = sender
        self._pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)  # connections open at once, at most
        self._idle: list[tuple[_DataPhaseAwareSMTP, bool]] = []

    @property
    def pool_size(self) -> int:
        """Connections open at once, at most: more sends than this wait for one."""

        return self._pool_size

    def build(
        self,
        recipient: str,
        rendered: RenderedEmail,
        idempotency_key: str,
        *,
        sender_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> OutgoingEmail:
        """The message; ``sender_name`` replaces the From display name (the organisation's
        name, so that a beneficiary sees who writes), ``headers`` are added as they are."""

        # The same key gives the same Message-ID: a resend after a crash is recognisable.
        message_id = f"<{idempotency_key}@refuge.notifications>"
        return build_email(
            self._sender, recipient, rendered, message_id, sender_name=sender_name, headers=headers
        )

    async def send(self, message: OutgoingEmail, before_data: BeforeData | None = None) -> None:
        """Send ``message``; ``before_data`` runs once the server has accepted sender and
        recipient, just before the message goes out, and may still call it off.

        Connections are reused (at most ``pool_size`` open at once): one session carries many
        messages, each its own MAIL/RCPT/DATA transaction. A reused connection the server
        dropped while idle fails before MAIL, when nothing can have been delivered: the
        message is then tried once on a fresh connection."""

        async with self._slots:
            client, reused = self._idle.pop() if self._idle else (None, False)
            if client is None or not client.is_connected:
                client, reused = _DataPhaseAwareSMTP(None, **self._options), False
            try:
                await self._send_on(client, message, before_data, reused=reused)
            except _StaleConnection:
                client = _DataPhaseAwareSMTP(None, **self._options)
                await self._send_on(client, message, before_data, reused=False)
            if len(self._idle) < self._pool_size:
                self._idle.append((client, True))
            else:
                await _close(client)

    async def _send_on(
        self,
        client: _DataPhaseAwareSMTP,
        message: OutgoingEmail,
        before_data: BeforeData | None,
        *,
        reused: bool,
    ) -> None:
        client.prepare(before_data)
        try:
            if not client.is_connected:
                await client.connect()
            await client.sendmail(message.envelope_from, [message.recipient], message.data)
        except aiosmtplib.SMTPRecipientsRefused as error:
            await _close(client)
            raise PermanentFailure("recipient refused") from error
        except aiosmtplib.SMTPResponseException as error:
            await _close(client)
            # A reply, even after DATA, is the server's decision: the message was not taken.
            if 500 <= error.code < 600:
                raise PermanentFailure(f"smtp {error.code}") from error
            raise TemporaryFailure(f"smtp {error.code}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            await _close(client)
            if client.data_started:
                raise OutcomeUnknown(type(error).__name__) from error
            if reused and isinstance(error, aiosmtplib.SMTPServerDisconnected | OSError):
                raise _StaleConnection from error
            raise TemporaryFailure(type(error).__name__) from error
        except BaseException:  # ClaimLost, cancellation: the session's state is unknown
            client.close()
            raise

    async def aclose(self) -> None:
        """Close the idle connections (QUIT)."""

        while self._idle:
            client, _reused = self._idle.pop()
            await _close(client)


class _StaleConnection(Exception):
    """A reused connection was found closed before anything was handed over."""


async def _close(client: aiosmtplib.SMTP) -> None:
    # The message was accepted (or not) before this point: a failed QUIT changes nothing.
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        if client.is_connected:
            await client.quit()
    client.close()
