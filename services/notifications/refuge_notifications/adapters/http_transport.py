"""A lean HTTP/1.1 transport for httpx: h11 over asyncio streams, connections kept alive.

Why not httpx's own transport: httpcore (through anyio) spends about 2 ms of CPU on each
request to the local SMS sink, most of the dispatcher's CPU for an SMS and the ceiling of
its SMS rate. The protocol itself is h11's (httpcore's own HTTP/1.1 parser); what is
written here is only the glue: open or reuse a connection, send, read the whole
(small) reply. httpx stays the API above it (requests, auth, responses, timeouts).

The errors are httpx's, with the meaning ``sms_providers`` relies on for at most once:
``ConnectError``/``ConnectTimeout``/``PoolTimeout`` only when the request never left;
once a byte of it may have been written, any failure is another ``TransportError``
(the provider may have taken the message). A kept-alive connection the server closed
while idle is found closed before it is used, and a new one is opened.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

import h11
import httpx

READ_SIZE = 65536
# A provider's answer is a few hundred bytes of JSON or form data; a body past this is not
# one, and must not grow the dispatcher's memory without bound.
MAX_RESPONSE_BYTES = 1 << 20
Origin = tuple[str, str, int]


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
        timeouts = request.extensions.get("timeout", {})
        try:
            await asyncio.wait_for(self._slots.acquire(), timeouts.get("pool"))
        except TimeoutError as error:
            raise httpx.PoolTimeout("no connection free", request=request) from error
        try:
            origin = (request.url.scheme, request.url.host, request.url.port or _default_port(request.url))
            connection = self._reuse(origin) or await self._connect(origin, request, timeouts.get("connect"))
            try:
                response = await _exchange(connection, request, timeouts.get("write"), timeouts.get("read"))
            except BaseException:
                connection.close()
                raise
            if connection.protocol.our_state is h11.DONE and connection.protocol.their_state is h11.DONE:
                connection.protocol.start_next_cycle()
                self._idle.setdefault(origin, []).append(connection)
            else:  # "Connection: close", or anything unfinished: not reused
                connection.close()
            return response
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

    async def _connect(self, origin: Origin, request: httpx.Request, seconds: float | None) -> _Connection:
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


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


async def _exchange(
    connection: _Connection, request: httpx.Request, write_timeout: float | None, read_timeout: float | None
) -> httpx.Response:
    protocol = connection.protocol
    body = await request.aread()
    headers = [(name, value) for name, value in request.headers.raw]
    outgoing = protocol.send(h11.Request(method=request.method, target=request.url.raw_path, headers=headers))
    if body:
        outgoing += protocol.send(h11.Data(data=body))
    outgoing += protocol.send(h11.EndOfMessage())
    try:
        connection.writer.write(outgoing)
        await asyncio.wait_for(connection.writer.drain(), write_timeout)
    except TimeoutError as error:
        raise httpx.WriteTimeout("writing the request", request=request) from error
    except OSError as error:
        raise httpx.WriteError(str(error), request=request) from error
    try:
        return await asyncio.wait_for(_read_response(connection, request), read_timeout)
    except TimeoutError as error:
        raise httpx.ReadTimeout("waiting for the reply", request=request) from error
    except h11.RemoteProtocolError as error:
        raise httpx.RemoteProtocolError(str(error), request=request) from error
    except OSError as error:
        raise httpx.ReadError(str(error), request=request) from error


async def _read_response(connection: _Connection, request: httpx.Request) -> httpx.Response:
    protocol = connection.protocol
    head: h11.Response | None = None
    chunks: list[bytes] = []
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
            if sum(map(len, chunks)) > MAX_RESPONSE_BYTES:
                raise httpx.RemoteProtocolError("reply larger than a provider's answer", request=request)
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return httpx.Response(
                head.status_code,
                headers=[(name, value) for name, value in head.headers],
                content=b"".join(chunks),
                request=request,
                extensions={"http_version": b"HTTP/" + head.http_version},
            )
        elif isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("the server closed the connection", request=request)
        # h11.InformationalResponse (100 Continue...): read on
