"""Providers that stall every message until the test releases them: an SMTP server (for
aiosmtpd) and an organisation's SMS webhook (a bare HTTP/1.1 server on the test's loop).

Each keeps ``log``: ("received", idempotency key) as a message arrives, ("answered", key)
once its reply is given; a release that never comes is bounded by ``STALL_AT_MOST_SECONDS``
(below the dispatcher's provider timeouts in these tests, so that a failing run still ends
with every message sent)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from aiosmtpd.controller import Controller

from refuge_devstack.ports import free_port

STALL_AT_MOST_SECONDS = 20


class _Log:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []

    def add(self, what: str, key: str) -> None:
        with self._lock:
            self._log.append((what, key))

    def events(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._log)

    def keys(self, what: str) -> list[str]:
        return [key for done, key in self.events() if done == what]


class StallEverySmtp(_Log):
    """aiosmtpd handler: takes every message, answers none before ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        key = envelope.content.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode()
        self.add("received", key)
        await asyncio.to_thread(self.release.wait, STALL_AT_MOST_SECONDS)
        self.add("answered", key)
        return "250 OK"


class StallEverySms(_Log):
    """An SMS webhook that reads each request, then answers none before ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/sms"

    async def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after another on the connection
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                headers = dict(
                    (name.strip().lower(), value.strip())
                    for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:] if line)
                )
                await reader.readexactly(int(headers.get("content-length", "0")))
                key = headers["idempotency-key"]
                self.add("received", key)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STALL_AT_MOST_SECONDS):
                        await self.release.wait()
                self.add("answered", key)
                body = json.dumps({"id": f"SM-{key}", "status": "accepted"}).encode()
                writer.write(
                    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Releasable(Protocol):
    release: threading.Event


@contextlib.contextmanager
def smtp_server(handler: _Releasable) -> Iterator[int]:
    """An aiosmtpd server with ``handler`` on a free port (its port); released, then stopped."""

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        handler.release.set()
        controller.stop()
