"""E-mail over SMTP with aiosmtplib: multipart text + HTML, stable Message-ID."""

from __future__ import annotations

import contextlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any

import aiosmtplib

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

    def build(
        self,
        recipient: str,
        rendered: RenderedEmail,
        idempotency_key: str,
        *,
        sender_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """The message; ``sender_name`` replaces the From display name (the organisation's
        name, so that a beneficiary sees who writes), ``headers`` are added as they are."""

        message = EmailMessage()
        if sender_name:
            address = getaddresses([self._sender])[0][1]
            message["From"] = Address(display_name=sender_name, addr_spec=address)
        else:
            message["From"] = self._sender
        message["To"] = recipient
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False)
        # The same key gives the same Message-ID: a resend after a crash is recognisable.
        message["Message-ID"] = f"<{idempotency_key}@refuge.notifications>"
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        # After the parts exist: making it multipart moves Content-* headers into the first part.
        message["Content-Language"] = rendered.language
        return message

    async def send(self, message: EmailMessage, before_data: BeforeData | None = None) -> None:
        """Send ``message``; ``before_data`` runs once the server has accepted sender and
        recipient, just before the message goes out, and may still call it off."""

        client = _DataPhaseAwareSMTP(before_data, **self._options)
        try:
            await client.connect()
            await client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure("recipient refused") from error
        except aiosmtplib.SMTPResponseException as error:
            # A reply, even after DATA, is the server's decision: the message was not taken.
            if 500 <= error.code < 600:
                raise PermanentFailure(f"smtp {error.code}") from error
            raise TemporaryFailure(f"smtp {error.code}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            if client.data_started:
                raise OutcomeUnknown(type(error).__name__) from error
            raise TemporaryFailure(type(error).__name__) from error
        finally:
            # The message was accepted (or not) before this point: a failed QUIT changes nothing.
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if client.is_connected:
                    await client.quit()
            client.close()
