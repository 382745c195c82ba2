"""The webhook sender's guard against server-side request forgery: which addresses it
refuses, and that it connects to the very address it judged, keeping the host name for
``Host``, SNI and certificate verification. Real sockets: a local HTTP(S) server on
127.0.0.1 that host names are made to resolve to through the resolver seam."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from refuge_devstack.certificates import self_signed
from refuge_notifications.adapters.webhook_egress import (
    GuardedHTTPTransport,
    RefusedAddress,
    WebhookTransport,
)
from refuge_notifications.adapters.webhook_sender import post
from refuge_notifications.domain.webhook_addresses import IPAddress, refusal
from refuge_notifications.domain.webhook_attempts import Verdict, judge

HOST = "hooks.example.org"  # resolves elsewhere in real DNS: only the seam sends it here

ADDRESSES: list[tuple[str, str | None, str | None]] = [
    # address, refusal with loopback refused, with loopback allowed
    ("93.184.215.14", None, None),
    ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None, None),
    ("127.0.0.1", "loopback", None),
    ("127.1.2.3", "loopback", None),
    ("::1", "loopback", None),
    ("::ffff:127.0.0.1", "loopback", None),  # IPv4-mapped: loopback to a dual-stack socket
    ("::ffff:10.0.0.7", "private", "private"),
    ("::ffff:169.254.169.254", "link-local", "link-local"),
    ("::ffff:93.184.215.14", None, None),  # mapped public: 3.11 calls it reserved
    ("0.0.0.0", "unspecified", "unspecified"),  # reaches this machine on Linux
    ("::", "unspecified", "unspecified"),
    ("169.254.169.254", "link-local", "link-local"),  # cloud metadata
    ("fe80::1", "link-local", "link-local"),
    ("10.1.2.3", "private", "private"),
    ("172.16.0.1", "private", "private"),
    ("192.168.1.1", "private", "private"),
    ("fc00::1", "private", "private"),  # unique local, fc00::/7
    ("fd12:3456::1", "private", "private"),
    ("fec0::1", "site-local", "site-local"),
    ("100.64.0.1", "shared (carrier-grade NAT)", "shared (carrier-grade NAT)"),
    ("100.127.255.254", "shared (carrier-grade NAT)", "shared (carrier-grade NAT)"),
    ("224.0.0.1", "multicast", "multicast"),  # 3.11 calls it global
    ("ff02::1", "multicast", "multicast"),
    ("240.0.0.1", "private", "private"),
    ("255.255.255.255", "private", "private"),
    ("64:ff9b::a00:1", "private", "private"),  # NAT64 to 10.0.0.1
    ("64:ff9b::5db8:d70e", None, None),  # NAT64 to a public address: DNS64 networks need it
    ("2002:a00:1::1", "private", "private"),  # 6to4 of 10.0.0.1
    ("2001:db8::1", "private", "private"),  # documentation
]


@pytest.mark.parametrize(("address", "refused", "refused_when_loopback_allowed"), ADDRESSES)
def test_which_addresses_a_webhook_may_reach(
    address: str, refused: str | None, refused_when_loopback_allowed: str | None
) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip, allow_loopback=False) == refused
    assert refusal(ip, allow_loopback=True) == refused_when_loopback_allowed


def test_the_reason_reads_as_a_sentence() -> None:
    assert str(RefusedAddress(HOST, ipaddress.ip_address("::"), "unspecified")) == (
        f"{HOST} resolves to an unspecified address"
    )


def test_a_refusal_is_not_retried() -> None:
    assert judge(None, refused=True) is Verdict.FAILED
    assert judge(None) is Verdict.RETRY


class Server:
    """A real HTTP(S) server on 127.0.0.1 that records what reaches it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict[str, str]] = []
        self.sni: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:

            def named(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
                server.sni.append(name)

            tls.sni_callback = named
            self._http.socket = tls.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def resolving_to(*addresses: str, calls: list[str] | None = None) -> Any:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        if calls is not None:
            calls.append(host)
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


async def send(transport: httpx.AsyncBaseTransport, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        return await client.post(url, content=b"{}")


async def test_a_name_resolving_to_loopback_is_refused_before_any_request(server: Server) -> None:
    for addresses in (["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["::ffff:127.0.0.1"]):
        transport = WebhookTransport(allow_loopback=False, resolver=resolving_to(*addresses), proxies={})
        with pytest.raises(RefusedAddress) as refused:
            await send(transport, f"http://{HOST}:{server.port}/secret-path?person=1")
        assert refused.value.reason == "loopback"
        assert str(refused.value) == f"{HOST} resolves to a loopback address"  # no path, no query
    assert server.requests == []


async def test_a_refusal_is_a_result_naming_the_host_only(server: Server) -> None:
    transport = WebhookTransport(allow_loopback=False, resolver=resolving_to("169.254.169.254"), proxies={})
    event = {
        "attributes": {
            "id": "e1",
            "source": "/t",
            "type": "t",
            "subject": "s",
            "time": datetime.now(UTC).isoformat(),
        },
        "data": {},
    }
    async with httpx.AsyncClient(transport=transport) as client:
        result = await post(
            client,
            f"http://{HOST}:{server.port}/p?token=x",
            event,
            webhook_id="d1",
            secrets=["whsec_" + "A" * 44],
            at=datetime.now(UTC),
            within=5.0,
        )
    assert result.refused and result.status_code is None
    assert result.error == f"refused: {HOST} resolves to a link-local address"
    assert server.requests == []


async def test_allowed_loopback_connects_to_the_checked_address_keeping_the_host(server: Server) -> None:
    calls: list[str] = []
    transport = WebhookTransport(
        allow_loopback=True, resolver=resolving_to("127.0.0.1", calls=calls), proxies={}
    )
    answer = await send(transport, f"http://{HOST}:{server.port}/hook")
    assert answer.status_code == 204
    [request] = server.requests
    assert request["host"] == f"{HOST}:{server.port}" and request["path"] == "/hook"
    assert calls == [HOST]  # resolved once, by the guard: the socket was opened to its answer


async def test_unresolvable_names_are_connection_failures_to_retry() -> None:
    async def nothing(host: str, port: int) -> list[IPAddress]:
        raise OSError("no such name")

    transport = WebhookTransport(allow_loopback=False, resolver=nothing, proxies={})
    with pytest.raises(httpx.ConnectError):
        await send(transport, f"https://{HOST}/hook")


async def test_tls_is_verified_and_named_for_the_host_not_the_address(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path, HOST)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    server = Server(tls)
    trusting = ssl.create_default_context(cafile=str(cert_path))
    try:
        transport = WebhookTransport(
            allow_loopback=True, resolver=resolving_to("127.0.0.1"), proxies={}, ssl_context=trusting
        )
        answer = await send(transport, f"https://{HOST}:{server.port}/hook")
        assert answer.status_code == 204
        assert server.sni == [HOST]
        # A certificate for another name does not pass, whatever address it answers on.
        other = WebhookTransport(
            allow_loopback=True, resolver=resolving_to("127.0.0.1"), proxies={}, ssl_context=trusting
        )
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await send(other, f"https://crm.example.net:{server.port}/hook")
    finally:
        server.close()


def test_a_proxy_carries_what_it_is_configured_for_and_the_rest_is_guarded() -> None:
    transport = WebhookTransport(
        allow_loopback=False,
        proxies={"https": "http://proxy.internal:3128", "no": "exempt.example.org"},
    )
    assert transport.proxied
    assert not isinstance(transport.route(httpx.URL(f"https://{HOST}/hook")), GuardedHTTPTransport)
    assert isinstance(transport.route(httpx.URL("https://exempt.example.org/hook")), GuardedHTTPTransport)
    assert isinstance(
        transport.route(httpx.URL(f"http://{HOST}/hook")), GuardedHTTPTransport
    )  # no http proxy
    everything = WebhookTransport(allow_loopback=False, proxies={"all": "http://proxy.internal:3128"})
    assert not isinstance(everything.route(httpx.URL(f"http://{HOST}/hook")), GuardedHTTPTransport)
    direct = WebhookTransport(allow_loopback=False, proxies={})
    assert not direct.proxied and isinstance(
        direct.route(httpx.URL(f"https://{HOST}/")), GuardedHTTPTransport
    )
