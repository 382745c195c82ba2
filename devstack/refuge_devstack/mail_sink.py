"""A local SMTP server that keeps every message it receives (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    envelope_to: list[str]
    raw: bytes
    received_at: datetime

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def summary(self) -> dict[str, Any]:
        message = self.message
        return {
            "from": self.envelope_from,
            "to": self.envelope_to,
            "subject": message["Subject"],
            "message_id": message["Message-ID"],
            "received_at": self.received_at.isoformat(),
        }


class _KeepEverything:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self.replies_released = threading.Event()
        self.replies_released.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = ReceivedMail(
            envelope_from=envelope.mail_from,
            envelope_to=list(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or envelope.content),
            received_at=datetime.now(UTC),
        )
        with self._lock:
            self.messages.append(mail)
            number = len(self.messages)
        if self.directory is not None:
            (self.directory / f"{number:06d}.eml").write_bytes(mail.raw)
        # Released from another thread (the test's), hence a threading.Event waited on aside;
        # only when held: a thread hop for every message would cost more than the rest.
        if not self.replies_released.is_set():
            await asyncio.to_thread(self.replies_released.wait)
        return "250 Message accepted for delivery"


class MailSink:
    """Runs in a background thread; ``messages`` is everything received so far."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1025, directory: Path | None = None) -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._handler = _KeepEverything(directory)
        self._controller = Controller(self._handler, hostname=host, port=port)
        self.host, self.port = host, port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def hold_replies(self) -> None:
        """Keep every message received from now on, but answer none until ``release_replies``:
        the instant a client has handed its message over and waits to hear it was taken."""

        self._handler.replies_released.clear()

    def release_replies(self) -> None:
        self._handler.replies_released.set()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler._lock:
            return list(self._handler.messages)
