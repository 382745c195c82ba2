"""A lean HTTP/1.1 transport for httpx: h11 over asyncio streams, connections kept alive.

Why not httpx's own transport: httpcore (through anyio) spends about 2 ms of CPU on each
request to the local SMS sink, most of the dispatcher's CPU for an SMS and the ceiling of
its SMS rate. The protocol itself is h11's (httpcore's own HTTP/1.1 parser); what is
written here is only the glue: open or reuse a connection, send, read the whole
(small) reply. httpx stays the API above it (requests, auth, responses, timeouts).

``LeanClient.post_small`` is the same exchange without httpx's request and response
objects, for the dispatcher's one POST per SMS: with them (URL parsing, header merging,
cookies, auth and redirect handling, the response's streams) httpx spent about 120 µs of
CPU per request over this transport, a fifth of the dispatcher's CPU for an SMS (measured
with a canned transport; ``bench/notifications_send.py``).

The errors are httpx's, with the meaning ``sms_providers`` relies on for at most once:
``ConnectError``/``ConnectTimeout``/``PoolTimeout`` only when the request never left;
once a byte of it may have been written, any failure is another ``TransportError``
(the provider may have taken the message). A kept-alive connection the server closed
while idle is found closed before it is used, and a new one is opened.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import h11
import httpx

READ_SIZE = 65536
# A provider's answer is a few hundred bytes of JSON or form data; a body past this is not
# one, and must not grow the dispatcher's memory without bound.
MAX_RESPONSE_BYTES = 1 << 20
Origin = tuple[str, str, int]
# Timeouts are ``asyncio.timeout`` scopes, not ``wait_for``: in Python 3.11 ``wait_for``
# wraps its coroutine in a task of its own, three of them per request.
# Parsed provider URLs kept by a client (one or two per organisation); cleared past this.
MAX_TARGETS = 1024


@dataclass(frozen=True)
class Reply:
    """A whole reply: what a provider's answer is read from."""

    status_code: int
    raw_headers: list[tuple[bytes, bytes]]
    content: bytes
    http_version: bytes = b"HTTP/1.1"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def headers(self) -> dict[str, str]:
        return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.raw_headers}

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))

    def usable(self) -> bool:
        return not (self.writer.is_closing() or self.reader.at_eof())

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._ssl_context = ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.scheme, request.url.host, request.url.port or _default_port(request.url))
        head = h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
        timeouts = request.extensions.get("timeout", {})
        reply = await self.exchange(origin, head, await request.aread(), timeouts, request)
        return httpx.Response(
            reply.status_code,
            headers=reply.raw_headers,
            content=reply.content,
            request=request,
            extensions={"http_version": reply.http_version},
        )

    async def exchange(
        self,
        origin: Origin,
        head: h11.Request,
        body: bytes,
        timeouts: dict[str, float | None],
        request: httpx.Request | None = None,
    ) -> Reply:
        """Send one request to ``origin`` on a connection of the pool; its whole reply."""

        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError as error:
            raise httpx.PoolTimeout("no connection free", request=request) from error
        try:
            connection = self._reuse(origin) or await self._connect(origin, request, timeouts.get("connect"))
            try:
                reply = await _exchange(
                    connection, head, body, timeouts.get("write"), timeouts.get("read"), request
                )
            except BaseException:
                connection.close()
                raise
            if connection.protocol.our_state is h11.DONE and connection.protocol.their_state is h11.DONE:
                connection.protocol.start_next_cycle()
                self._idle.setdefault(origin, []).append(connection)
            else:  # "Connection: close", or anything unfinished: not reused
                connection.close()
            return reply
        finally:
            self._slots.release()

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin, [])
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    async def _connect(
        self, origin: Origin, request: httpx.Request | None, seconds: float | None
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl_context is None:  # once: loading the CA bundle is costly
                self._ssl_context = httpx.create_ssl_context()
            context = self._ssl_context
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, limit=READ_SIZE), seconds
            )
        except TimeoutError as error:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}", request=request) from error
        except OSError as error:
            raise httpx.ConnectError(f"connecting to {host}:{port}: {error}", request=request) from error
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class LeanClient(httpx.AsyncClient):
    """An httpx client over ``KeepAliveTransport``, with ``post_small`` beside its API."""

    def __init__(self, transport: KeepAliveTransport, *, timeout: httpx.Timeout | float) -> None:
        super().__init__(transport=transport, timeout=timeout)
        self._lean = transport
        self._timeouts = self.timeout.as_dict()
        self._targets: dict[str, tuple[Origin, bytes, bytes]] = {}

    def build_small(self, url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> SmallRequest:
        """A POST of ``body`` to ``url`` with ``headers`` (besides Host and Content-Length),
        checked (h11 refuses a malformed header) before anything is sent."""

        target = self._targets.get(url)
        if target is None:
            parsed = httpx.URL(url)
            origin = (parsed.scheme, parsed.host, parsed.port or _default_port(parsed))
            target = origin, parsed.raw_path, parsed.netloc
            if len(self._targets) >= MAX_TARGETS:
                self._targets.clear()
            self._targets[url] = target
        origin, path, host = target
        head = h11.Request(
            method=b"POST",
            target=path,
            headers=[(b"host", host), (b"content-length", b"%d" % len(body)), *headers],
        )
        return SmallRequest(origin, head, body)

    async def send_small(self, request: SmallRequest) -> Reply:
        """Send ``request`` under the client's timeouts; the whole reply. The errors are
        ``handle_async_request``'s."""

        return await self._lean.exchange(request.origin, request.head, request.body, self._timeouts)


@dataclass(frozen=True)
class SmallRequest:
    origin: Origin
    head: h11.Request
    body: bytes


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


async def _exchange(
    connection: _Connection,
    head: h11.Request,
    body: bytes,
    write_timeout: float | None,
    read_timeout: float | None,
    request: httpx.Request | None,
) -> Reply:
    protocol = connection.protocol
    outgoing = protocol.send(head)
    if body:
        outgoing += protocol.send(h11.Data(data=body))
    outgoing += protocol.send(h11.EndOfMessage())
    try:
        connection.writer.write(outgoing)
        async with asyncio.timeout(write_timeout):
            await connection.writer.drain()
    except TimeoutError as error:
        raise httpx.WriteTimeout("writing the request", request=request) from error
    except OSError as error:
        raise httpx.WriteError(str(error), request=request) from error
    try:
        async with asyncio.timeout(read_timeout):
            return await _read_response(connection, request)
    except TimeoutError as error:
        raise httpx.ReadTimeout("waiting for the reply", request=request) from error
    except h11.RemoteProtocolError as error:
        raise httpx.RemoteProtocolError(str(error), request=request) from error
    except OSError as error:
        raise httpx.ReadError(str(error), request=request) from error


async def _read_response(connection: _Connection, request: httpx.Request | None) -> Reply:
    protocol = connection.protocol
    head: h11.Response | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = protocol.next_event()
        if event is h11.NEED_DATA:
            data = await connection.reader.read(READ_SIZE)
            if not data and protocol.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("the server closed the connection", request=request)
            protocol.receive_data(data)
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
            size += len(event.data)
            if size > MAX_RESPONSE_BYTES:
                raise httpx.RemoteProtocolError("reply larger than a provider's answer", request=request)
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return Reply(head.status_code, list(head.headers), b"".join(chunks), b"HTTP/" + head.http_version)
        elif isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("the server closed the connection", request=request)
        # h11.InformationalResponse (100 Continue...): read on


def keep_alive_client(connections: int, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The lean keep-alive client, unless a proxy is set in the environment: then httpx's
    own, which honours it."""

    if urllib.request.getproxies():
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    return LeanClient(KeepAliveTransport(connections), timeout=timeout)
