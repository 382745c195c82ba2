"""The webhook sender's HTTP transport: it connects only to addresses it has judged.

``check_url`` refuses IP literals of internal ranges at registration, but a host name can
resolve to anything, and to something else a second later (DNS rebinding). So the
connection itself is guarded, in httpcore's network backend, where a TCP connection is
opened: the host is resolved once, every address it resolves to is judged
(``domain.webhook_addresses``; one internal address is enough to refuse: a rebinding
answer mixes them), and the socket is opened to one of those very addresses, never by
name, so no second lookup can differ from the one that was checked. TLS is started by
httpcore afterwards with the URL's host name for SNI and certificate verification, and
the request keeps its ``Host``: only the address is pinned. A kept-alive connection stays
on the address it was checked for.

When the environment names a proxy (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``), the
proxy connects to the receiver, not this process: those requests go to the proxy as
httpx would send them, unchecked here (the egress proxy is the line, docs/webhooks.md).
Hosts that ``NO_PROXY`` exempts are connected to directly, and so are guarded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from refuge_notifications.domain.webhook_addresses import IPAddress, refusal

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class RefusedAddress(Exception):
    """The host resolved to an address a webhook must not reach. Deliberately not an
    ``httpx.HTTPError``: it is not a network failure to retry but a refusal."""

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        article = "an" if reason[0] in "aeiou" else "a"
        super().__init__(f"{host} resolves to {article} {reason} address")
        self.host = host
        self.address = address
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to, in the system resolver's order (``/etc/hosts``,
    DNS...), as any connection by name would get them."""

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, opening TCP connections to judged addresses only."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host.strip("[]"), port, within=timeout)
        for address in addresses:
            reason = refusal(address, allow_loopback=self._allow_loopback)
            if reason is not None:
                raise RefusedAddress(host, address, reason)
        failure: Exception | None = None
        for address in addresses:  # in order, the next one if one does not answer
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # _resolve returns at least one address
        raise failure

    async def _resolve(self, host: str, port: int, *, within: float | None) -> list[IPAddress]:
        # Failures become httpcore's own, so that httpx reports them as it reports any
        # connection failure (retried by the delivery's policy), naming no URL.
        try:
            async with asyncio.timeout(within):
                addresses = await self._resolver(host, port)
        except TimeoutError as error:
            raise httpcore.ConnectTimeout("name resolution timed out") from error
        except OSError as error:
            raise httpcore.ConnectError(f"name resolution failed ({type(error).__name__})") from error
        if not addresses:
            raise httpcore.ConnectError("the name resolves to no address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its request, response and error mapping) over a guarded pool."""

    def __init__(self, backend: GuardedBackend, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(limits=LIMITS)
        # httpx has no public way to hand its pool a network backend: the pool is built
        # again with the same settings and ours (tests/test_webhook_egress.py would
        # notice a pool that ignores it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),  # httpx's default: certifi, SSL_CERT_FILE
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=backend,
        )


class WebhookTransport(httpx.AsyncBaseTransport):
    """Direct requests through the guard; those an environment proxy carries, to it."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        resolver: Resolver = system_resolver,
        proxies: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # ``proxies``: scheme -> proxy URL and "no" -> NO_PROXY, as urllib reads the
        # environment (the default); httpx's own reading is private to it.
        self._proxies = dict(urllib.request.getproxies_environment() if proxies is None else proxies)
        backend = GuardedBackend(allow_loopback=allow_loopback, resolver=resolver)
        self._direct = GuardedHTTPTransport(backend, ssl_context)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}
        for scheme in ("http", "https"):
            url = self._proxies.get(scheme) or self._proxies.get("all")
            if url:
                self._proxied[scheme] = httpx.AsyncHTTPTransport(proxy=url, limits=LIMITS)

    @property
    def proxied(self) -> bool:
        """Whether some requests may go through a proxy (and are then not checked here)."""

        return bool(self._proxied)

    def route(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxied = self._proxied.get(url.scheme)
        if proxied is None or _no_proxy(url.host, self._proxies):
            return self._direct
        return proxied

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._direct, *self._proxied.values()):
            await transport.aclose()


def _no_proxy(host: str, proxies: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` (``proxies["no"]``) exempts ``host``, by urllib's rules."""

    # Present in urllib.request since Python 2, missing from typeshed's stub.
    exempt: bool = urllib.request.proxy_bypass_environment(host, proxies)  # type: ignore[attr-defined]
    return exempt
