"""The dispatcher's keep-alive HTTP transport against real sockets: a connection the
server closed while idle is replaced before anything is written on it, and a request
that went out and got no answer is never mistaken for one that never left."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from refuge_devstack.certificates import self_signed
from refuge_notifications.adapters.http_transport import KeepAliveTransport, LeanClient
from refuge_notifications.adapters.outcomes import OutcomeUnknown, TemporaryFailure
from refuge_notifications.adapters.sms_providers import ProviderConfig, SmsMessage, provider_for

pytestmark = pytest.mark.integration
MESSAGE = SmsMessage(to="+33612345678", body="Rappel. STOP", idempotency_key="key-1")


@dataclass
class Provider:
    """Answers each request, then closes the connection (``close_after_reply``) or, with
    ``answer`` False, reads the request and closes without a word."""

    answer: bool = True
    close_after_reply: bool = False
    connections: int = 0
    requests: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                if not self.answer:
                    break
                body = b'{"id": "m1"}'
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                if self.close_after_reply:
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()
            await writer.wait_closed()
            self.closed.set()


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    behaviour = Provider()
    server = await asyncio.start_server(behaviour.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield behaviour, f"http://127.0.0.1:{port}/sms"


async def test_a_connection_is_kept_alive_and_one_closed_while_idle_is_replaced(
    provider: tuple[Provider, str],
) -> None:
    behaviour, url = provider
    transport = KeepAliveTransport(2)
    async with LeanClient(transport, timeout=2) as client:
        sms = provider_for(client, ProviderConfig(kind="webhook", url=url))
        assert await sms.send(MESSAGE) == "m1"
        assert await sms.send(MESSAGE) == "m1"
        assert (behaviour.connections, behaviour.requests) == (1, 2)  # one connection, reused

        behaviour.close_after_reply = True
        assert await sms.send(MESSAGE) == "m1"
        await behaviour.closed.wait()
        # Once the client has seen the close, the idle connection is not used again.
        for _ in range(200):
            if not any(c.usable() for idle in transport._idle.values() for c in idle):
                break
            await asyncio.sleep(0.01)
        behaviour.close_after_reply = False
        assert await sms.send(MESSAGE) == "m1"
    assert (behaviour.connections, behaviour.requests) == (2, 4)  # each message once


async def test_a_request_that_went_out_without_an_answer_is_an_unknown_outcome(
    provider: tuple[Provider, str],
) -> None:
    behaviour, url = provider
    behaviour.answer = False
    async with LeanClient(KeepAliveTransport(2), timeout=2) as client:
        sms = provider_for(client, ProviderConfig(kind="webhook", url=url))
        with pytest.raises(OutcomeUnknown):
            await sms.send(MESSAGE)
    assert behaviour.requests == 1


async def test_a_reply_larger_than_any_provider_answer_is_refused_as_unknown() -> None:
    # The request went out, so the provider may have taken the message: unknown, not retried.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # A well-formed answer, but 4 MiB of it: past the transport's 1 MiB ceiling.
        body = b'{"id": "m1", "padding": "%s"}' % (b"x" * (4 << 20))
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n" % len(body))
        with contextlib.suppress(ConnectionError):
            writer.write(body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, LeanClient(KeepAliveTransport(2), timeout=5) as client:
        sms = provider_for(client, ProviderConfig(kind="webhook", url=f"http://127.0.0.1:{port}/sms"))
        with pytest.raises(OutcomeUnknown):
            await sms.send(MESSAGE)


async def test_https_providers_are_reached_over_verified_tls(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path, "127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    behaviour = Provider()
    server = await asyncio.start_server(behaviour.serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        trusting = ssl.create_default_context(cafile=str(cert_file))
        async with LeanClient(KeepAliveTransport(2, trusting), timeout=2) as client:
            sms = provider_for(client, ProviderConfig(kind="webhook", url=f"https://127.0.0.1:{port}/sms"))
            assert await sms.send(MESSAGE) == "m1"
            assert await sms.send(MESSAGE) == "m1"
        # A client that does not trust the certificate never hands the message over.
        async with LeanClient(KeepAliveTransport(2), timeout=2) as client:
            sms = provider_for(client, ProviderConfig(kind="webhook", url=f"https://127.0.0.1:{port}/sms"))
            with pytest.raises(TemporaryFailure):
                await sms.send(MESSAGE)
    # One connection kept alive for both messages; the refused handshake never reached it.
    assert (behaviour.connections, behaviour.requests) == (1, 2)
