"""Server-side request forgery through a webhook, end to end: notifications in-process as
production runs it (``NOTIFICATIONS_WEBHOOK_ALLOW_HTTP_LOOPBACK`` off), an endpoint whose
host name resolves to this machine, and a real HTTP server listening there that must
never hear from the service. (test_webhooks.py runs the same flows with loopback allowed,
as tests and a developer's machine do, and they deliver.)

The endpoint is stored as it would have been while its name pointed elsewhere (the API
refuses loopback names when loopback is not allowed): a rebinding name is checked again
at each connection, whatever it was at registration. ``localhost`` resolves through the
system resolver (``/etc/hosts``), the production path, no seam."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from refuge_common.auth.principal import Principal, Role
from refuge_common.crypto.keyring import MasterKeyWrapper
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_devstack.testing import case_opened
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.webhook_endpoints import WebhookEndpoints

if TYPE_CHECKING:
    from conftest import Notifications

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def listener() -> Iterator[list[str]]:
    """A real HTTP server on 127.0.0.1; the paths of the requests that reached it."""

    reached: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            reached.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reached.append(str(server.server_address[1]))  # the port, first
    try:
        yield reached
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
async def stored_as_before(database_url: str, master_key: str) -> AsyncIterator[WebhookEndpoints]:
    """Endpoints written as registration wrote them when the name resolved elsewhere."""

    pool = await create_pool(app_dsn(database_url, SCHEMA), schema=SCHEMA.schema)
    try:
        yield WebhookEndpoints(
            lambda: pool, OrganisationSecrets(MasterKeyWrapper(master_key)), allow_http_loopback=True
        )
    finally:
        await pool.close()


async def test_a_name_resolving_to_loopback_gets_no_request_and_the_refusal_is_recorded(
    notifications: Notifications,
    listener: list[str],
    stored_as_before: WebhookEndpoints,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert not notifications.settings.notifications_webhook_allow_http_loopback  # production's default
    port, org = listener[0], uuid.uuid4()
    endpoint, _ = await stored_as_before.register(
        org,
        url=f"http://localhost:{port}/crm/hook?person=secret-token",
        event_types=["org.refuge.case.opened.v1"],
        office_id=None,
        description=None,
    )
    await notifications.publish(org, case_opened(org))

    token = notifications.issuer.token(Principal(key_id="k-ssrf", organisation_id=org, role=Role.ORG_ADMIN))
    path = f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries"

    async def settled() -> list[dict[str, Any]] | None:
        answer = await notifications.http.get(path, headers={"Authorization": f"Bearer {token}"})
        found: list[dict[str, Any]] = answer.json()
        return found if found and found[0]["status"] in {"succeeded", "failed"} else None

    [delivery] = await notifications.eventually(settled)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)  # refused once, not retried
    assert delivery["last_status_code"] is None
    assert delivery["last_error"] == "refused: localhost resolves to a loopback address"
    assert listener[1:] == []  # no request reached the server the name points at

    output = "".join(capfd.readouterr()).splitlines()
    refusals = [line for line in output if "webhook_address_refused" in line]
    assert refusals and all("localhost" in line and "loopback" in line for line in refusals)
    assert not any("/crm/hook" in line or "secret-token" in line for line in refusals)
