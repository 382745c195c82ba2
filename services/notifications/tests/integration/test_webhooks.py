"""Webhooks end to end: notifications in-process on the real broker and PostgreSQL, events
published to Kafka as intake would, real tokens (intake's issuer, JWKS over HTTP), and a real
HTTP receiver on loopback that checks every signature with code written from the Standard
Webhooks text (not with the library that signs)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseClosed
from refuge_common.contract.directory import OfficeOpened
from refuge_common.contract.envelope import new_event, to_record
from refuge_common.crypto.keyring import MasterKeyWrapper
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_devstack.testing import case_opened, eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.bootstrap import build_app
from refuge_notifications.entrypoints.webhook_dispatcher import WebhookDispatcher
from refuge_notifications.entrypoints.webhook_wiring import attempt_policy
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.webhook_endpoints import WebhookEndpoints
from refuge_notifications.settings import NotificationsSettings

pytestmark = pytest.mark.integration
OPENED, CLOSED = "org.refuge.case.opened.v1", "org.refuge.case.closed.v1"
HANG = "hang"
LATER = "later"  # 503 with Retry-After: one hour
SLOW = "slow"  # 200 after a while, counting the attempts in flight per webhook-id
TIMEOUT = 1.0


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """spec/standard-webhooks.md: HMAC-SHA256 over `{msg_id}.{timestamp}.{payload}` with the
    base64-decoded `whsec_` secret; `v1,<base64>` entries, space-separated; timestamp within
    tolerance (5 minutes here)."""

    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (entry.partition(",") for entry in headers["webhook-signature"].split(" "))
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A real HTTP server: answers each path from its script (then 200, or ``always``)."""

    secrets: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, list[int | str]] = field(default_factory=dict)
    always: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def slowly(self, webhook_id: str) -> None:
        with self._lock:
            self.in_flight[webhook_id] = self.in_flight.get(webhook_id, 0) + 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight[webhook_id])
        time.sleep(0.2)
        with self._lock:
            self.in_flight[webhook_id] -= 1

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path, "")
                valid = bool(secret) and signature_valid(secret, headers, body)
                receiver.received.append(Received(self.path, headers, body, valid))
                script = receiver.scripts.get(self.path) or []
                answer = script.pop(0) if script else receiver.always.get(self.path, 200)
                if answer == SLOW:
                    receiver.slowly(headers["webhook-id"])
                    answer = 200
                if answer == HANG:
                    time.sleep(TIMEOUT * 2)  # the sender gave up long ago
                    answer = 200
                self.send_response(503 if answer == LATER else int(answer))
                if answer == LATER:
                    self.send_header("Retry-After", "3600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self._server.shutdown()


@dataclass
class Webhooks:
    http: httpx.AsyncClient
    producer: EventProducer
    issuer: LocalIssuer
    receiver: Receiver
    admin_dsn: str
    settings: NotificationsSettings

    def auth(self, org: UUID, role: Role = Role.ORG_ADMIN) -> dict[str, str]:
        token = self.issuer.token(Principal(key_id=f"k-{org.hex[:8]}", organisation_id=org, role=role))
        return {"Authorization": f"Bearer {token}"}

    async def register(self, org: UUID, path: str, *types: str, office: UUID | None = None) -> dict[str, Any]:
        body = {"url": self.receiver.url(path), "event_types": list(types or (OPENED, CLOSED))}
        if office is not None:
            body["office_id"] = str(office)
        answer = await self.http.post("/webhooks/endpoints", json=body, headers=self.auth(org))
        assert answer.status_code == 201, answer.text
        registered: dict[str, Any] = answer.json()
        self.receiver.secrets[path] = registered["secret"]
        return registered

    async def publish(self, org: UUID, *events: EventData) -> list[str]:
        envelopes = [new_event("/refuge/intake", data, org) for data in events]
        await self.producer.send_in_order([to_record(e) for e in envelopes])
        return [e.id for e in envelopes]

    async def applied(self, event_id: str) -> None:
        """Wait until the webhooks consumer has read the event (its inbox has it)."""

        async def probe() -> bool:
            admin = await asyncpg.connect(self.admin_dsn)
            try:
                return bool(
                    await admin.fetchval(
                        """SELECT true FROM notifications.inbox
                           WHERE event_id = $1 AND consumer LIKE '%webhooks%'""",
                        event_id,
                    )
                )
            finally:
                await admin.close()

        await eventually(probe)

    async def deliveries(self, org: UUID, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
        answer = await self.http.get(
            f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", headers=self.auth(org)
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    async def settled(self, org: UUID, endpoint: dict[str, Any], count: int) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = await self.deliveries(org, endpoint)
            done = len(found) == count and all(
                d["status"] in {"succeeded", "failed", "paused"} for d in found
            )
            return found if done else None

        settled = await eventually(probe)
        assert settled is not None
        return settled


def constant(pool: asyncpg.Pool) -> Callable[[], asyncpg.Pool]:
    return lambda: pool


@pytest.fixture(scope="module")
async def webhooks(
    kafka_bootstrap_servers: str, database_url: str, master_key: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Webhooks]:
    issuer = LocalIssuer(tmp_path_factory.mktemp("issuer") / "key.pem")
    receiver = Receiver()
    receiver.start()
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        jwks_url=issuer.jwks_url,
        outbox_poll_interval_ms=100,
        consumer_backoff_initial_ms=20,
        consumer_max_attempts=2,
        consumer_session_timeout_ms=3000,
        notifications_send_lease_seconds=5,
        notifications_webhook_timeout_seconds=TIMEOUT,
        notifications_webhook_max_attempts=3,
        notifications_webhook_backoff_initial_seconds=0.05,
        notifications_webhook_backoff_max_seconds=0.2,
        notifications_webhook_disable_after_failures=2,
        notifications_webhook_allow_http_loopback=True,
        REFUGE_MASTER_KEY=master_key,
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    producer = EventProducer(kafka_bootstrap_servers, "webhooks-tests")
    await producer.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n.test") as http,
        ):
            yield Webhooks(http, producer, issuer, receiver, database_url, settings)
    finally:
        await producer.stop()
        receiver.stop()
        issuer.close()


@pytest.fixture
def org() -> UUID:
    return uuid.uuid4()


async def test_an_event_arrives_as_a_signed_structured_cloudevent(webhooks: Webhooks, org: UUID) -> None:
    endpoint = await webhooks.register(org, "/signed")
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"]
    opened = case_opened(org)
    [event_id] = await webhooks.publish(org, opened)
    [delivery] = await webhooks.settled(org, endpoint, 1)
    [request] = webhooks.receiver.to("/signed")
    assert request.valid
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.headers["webhook-id"] == delivery["delivery_id"]
    event = request.event
    assert (event["specversion"], event["id"], event["type"]) == ("1.0", event_id, OPENED)
    assert (event["source"], event["subject"], event["tenantid"]) == (
        "/refuge/intake",
        str(opened.case_id),
        str(org),
    )
    assert event["data"]["case_id"] == str(opened.case_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 1, 200)
    assert (delivery["event_id"], delivery["event_type"], delivery["next_attempt_at"]) == (
        event_id,
        OPENED,
        None,
    )


async def test_retried_on_timeouts_and_5xx_until_the_receiver_takes_it(webhooks: Webhooks, org: UUID) -> None:
    webhooks.receiver.scripts["/flaky"] = [HANG, 503]
    endpoint = await webhooks.register(org, "/flaky")
    await webhooks.publish(org, case_opened(org))
    [delivery] = await webhooks.settled(org, endpoint, 1)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 3, 200)
    attempts = webhooks.receiver.to("/flaky")
    assert len(attempts) == 3 and all(a.valid for a in attempts)
    assert {a.headers["webhook-id"] for a in attempts} == {delivery["delivery_id"]}  # receivers dedupe on it
    assert len({a.body for a in attempts}) == 1
    again = (
        await webhooks.http.get(f"/webhooks/endpoints/{endpoint['endpoint_id']}", headers=webhooks.auth(org))
    ).json()
    assert again["enabled"] and again["consecutive_failures"] == 0 and again["failing_since"] is None


async def test_a_4xx_is_not_retried_but_408_and_429_are(webhooks: Webhooks, org: UUID) -> None:
    webhooks.receiver.scripts["/strict"] = [400]
    webhooks.receiver.scripts["/busy"] = [429, 408]
    strict, busy = await webhooks.register(org, "/strict"), await webhooks.register(org, "/busy")
    await webhooks.publish(org, case_opened(org))
    [refused] = await webhooks.settled(org, strict, 1)
    assert (refused["status"], refused["attempts"], refused["last_status_code"]) == ("failed", 1, 400)
    assert refused["last_error"] == "HTTP 400"
    [taken] = await webhooks.settled(org, busy, 1)
    assert (taken["status"], taken["attempts"]) == ("succeeded", 3)
    assert len(webhooks.receiver.to("/strict")) == 1


async def test_an_endpoint_that_keeps_failing_is_disabled_and_enabling_resumes_it(
    webhooks: Webhooks, org: UUID
) -> None:
    webhooks.receiver.always["/down"] = 500
    endpoint = await webhooks.register(org, "/down")
    path = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    await webhooks.publish(org, case_opened(org), case_opened(org))

    async def disabled() -> dict[str, Any] | None:
        found: dict[str, Any] = (await webhooks.http.get(path, headers=webhooks.auth(org))).json()
        return None if found["enabled"] else found

    state = await eventually(disabled)
    assert state is not None
    assert state["disabled_reason"] == "2 deliveries failed in a row" and state["disabled_at"]
    assert {d["status"] for d in await webhooks.settled(org, endpoint, 2)} == {"failed"}
    assert len(webhooks.receiver.to("/down")) == 6  # 2 deliveries x 3 attempts
    metrics = (await webhooks.http.get("/metrics")).text
    assert 'refuge_webhook_endpoints_disabled_total{reason="consecutive_failures"}' in metrics
    assert 'refuge_webhook_deliveries_total{outcome="failed"}' in metrics
    assert "refuge_webhook_deliveries_pending" in metrics

    # Disabled: new events are not even planned for it. Enabled again: the next ones are.
    [while_disabled] = await webhooks.publish(org, case_opened(org))
    await webhooks.applied(while_disabled)
    webhooks.receiver.always.pop("/down")
    assert (await webhooks.http.post(f"{path}/enable", headers=webhooks.auth(org))).json()["enabled"]
    await webhooks.publish(org, case_opened(org))
    found = await webhooks.settled(org, endpoint, 3)
    assert sorted(d["status"] for d in found) == ["failed", "failed", "succeeded"]


async def test_410_gone_disables_the_endpoint_at_once(webhooks: Webhooks, org: UUID) -> None:
    webhooks.receiver.scripts["/gone"] = [410]
    endpoint = await webhooks.register(org, "/gone")
    await webhooks.publish(org, case_opened(org))
    [delivery] = await webhooks.settled(org, endpoint, 1)
    assert (delivery["status"], delivery["last_status_code"]) == ("failed", 410)
    state = (
        await webhooks.http.get(f"/webhooks/endpoints/{endpoint['endpoint_id']}", headers=webhooks.auth(org))
    ).json()
    assert not state["enabled"] and state["disabled_reason"] == "the endpoint answered 410 Gone"


async def test_a_delivery_can_be_redelivered_with_the_same_webhook_id(webhooks: Webhooks, org: UUID) -> None:
    endpoint = await webhooks.register(org, "/again")
    await webhooks.publish(org, case_opened(org))
    [first] = await webhooks.settled(org, endpoint, 1)
    url = f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries/{first['delivery_id']}/redeliver"
    other_org = uuid.uuid4()
    assert (await webhooks.http.post(url, headers=webhooks.auth(other_org))).status_code == 404
    answer = await webhooks.http.post(url, headers=webhooks.auth(org))
    assert answer.status_code == 202 and answer.json()["redeliveries"] == 1

    async def twice() -> list[Received] | None:
        found = webhooks.receiver.to("/again")
        return found if len(found) == 2 else None

    copies = await eventually(twice)
    assert copies is not None
    assert copies[0].body == copies[1].body and all(c.valid for c in copies)
    assert copies[0].headers["webhook-id"] == copies[1].headers["webhook-id"] == first["delivery_id"]
    [after] = await webhooks.settled(org, endpoint, 1)
    assert (after["status"], after["attempts"], after["redeliveries"]) == ("succeeded", 1, 1)


async def test_no_event_crosses_organisations(webhooks: Webhooks) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    endpoint_a = await webhooks.register(org_a, "/org-a")
    endpoint_b = await webhooks.register(org_b, "/org-b")
    ids_a = await webhooks.publish(org_a, case_opened(org_a), case_opened(org_a))
    ids_b = await webhooks.publish(org_b, case_opened(org_b))
    await webhooks.settled(org_a, endpoint_a, 2)
    await webhooks.settled(org_b, endpoint_b, 1)
    got_a, got_b = webhooks.receiver.to("/org-a"), webhooks.receiver.to("/org-b")
    assert sorted(r.event["id"] for r in got_a) == sorted(ids_a)
    assert [r.event["id"] for r in got_b] == ids_b
    assert {r.event["tenantid"] for r in got_a} == {str(org_a)} and {r.event["tenantid"] for r in got_b} == {
        str(org_b)
    }
    # Another organisation's endpoint, deliveries and delivery are 404, and absent from its list.
    path_a = f"/webhooks/endpoints/{endpoint_a['endpoint_id']}"
    as_b = webhooks.auth(org_b)
    [delivery_a, _] = await webhooks.deliveries(org_a, endpoint_a)
    for method, url in [
        ("GET", path_a),
        ("PATCH", path_a),
        ("DELETE", path_a),
        ("POST", f"{path_a}/disable"),
        ("POST", f"{path_a}/rotate-secret"),
        ("GET", f"{path_a}/deliveries"),
        ("GET", f"{path_a}/deliveries/{delivery_a['delivery_id']}"),
        ("GET", f"/webhooks/endpoints/{endpoint_b['endpoint_id']}/deliveries/{delivery_a['delivery_id']}"),
    ]:
        answer = await webhooks.http.request(
            method, url, headers=as_b, json={} if method == "PATCH" else None
        )
        assert answer.status_code == 404, (method, url)
    listed = (await webhooks.http.get("/webhooks/endpoints", headers=as_b)).json()
    assert [e["endpoint_id"] for e in listed] == [endpoint_b["endpoint_id"]]
    assert (await webhooks.http.get(path_a, headers=webhooks.auth(org_a))).json()["enabled"]


async def test_an_office_endpoint_gets_its_offices_cases_only(webhooks: Webhooks, org: UUID) -> None:
    office, other_office = uuid.uuid4(), uuid.uuid4()
    opened_offices = [
        OfficeOpened(
            office_id=o,
            organisation_id=org,
            name="Permanence",
            kind="drop_in_clinic",
            timezone="Europe/Paris",
            jurisdiction="FR",
        )
        for o in (office, other_office)
    ]
    await webhooks.publish(org, *opened_offices)

    async def office_known() -> dict[str, Any] | None:
        body = {
            "url": webhooks.receiver.url("/office"),
            "event_types": [OPENED, CLOSED],
            "office_id": str(office),
        }
        answer = await webhooks.http.post("/webhooks/endpoints", json=body, headers=webhooks.auth(org))
        return dict(answer.json()) if answer.status_code == 201 else None

    endpoint = await eventually(office_known)  # once the directory event reached notifications
    assert endpoint is not None
    webhooks.receiver.secrets["/office"] = endpoint["secret"]
    ours, theirs = case_opened(org, office), case_opened(org, other_office)
    closed = CaseClosed(case_id=ours.case_id, outcome="other", closed_at=datetime.now(UTC))
    ids = await webhooks.publish(org, ours, theirs, closed)
    found = await webhooks.settled(org, endpoint, 2)
    assert sorted(d["event_id"] for d in found) == sorted([ids[0], ids[2]])  # case.closed names no office


async def test_disabling_pauses_pending_deliveries_and_enabling_resumes_them(
    webhooks: Webhooks, org: UUID
) -> None:
    webhooks.receiver.scripts["/paused"] = [LATER]
    endpoint = await webhooks.register(org, "/paused")
    path = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    await webhooks.publish(org, case_opened(org))

    async def waiting() -> dict[str, Any] | None:
        found = await webhooks.deliveries(org, endpoint)
        return found[0] if found and found[0]["attempts"] == 1 else None

    delivery = await eventually(waiting)
    assert delivery is not None
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 503)
    assert delivery["next_attempt_at"] is not None  # an hour away, as the receiver asked
    assert (await webhooks.http.post(f"{path}/disable", headers=webhooks.auth(org))).status_code == 200
    [paused] = await webhooks.deliveries(org, endpoint)
    assert (paused["status"], paused["next_attempt_at"]) == ("paused", None)
    redeliver = f"{path}/deliveries/{paused['delivery_id']}/redeliver"
    assert (await webhooks.http.post(redeliver, headers=webhooks.auth(org))).status_code == 409
    assert (await webhooks.http.post(f"{path}/enable", headers=webhooks.auth(org))).status_code == 200
    [resumed] = await webhooks.settled(org, endpoint, 1)
    assert (resumed["status"], resumed["attempts"]) == ("succeeded", 2)


async def test_registration_refuses_bad_input_naming_the_field(webhooks: Webhooks, org: UUID) -> None:
    def body(**changes: Any) -> dict[str, Any]:
        return {"url": "https://crm.example.org/refuge", "event_types": [OPENED], **changes}

    cases = [
        (body(url="http://crm.example.org/refuge"), ["body", "url"]),
        (body(url="https://10.1.2.3/hook"), ["body", "url"]),
        (body(event_types=[OPENED, "org.refuge.case.opened.v9"]), ["body", "event_types", 1]),
        (body(event_types=["org.refuge.person.registered.v1"]), ["body", "event_types", 0]),
        (body(event_types=[]), ["body", "event_types"]),
        (body(office_id=str(uuid.uuid4())), ["body", "office_id"]),
        (body(colour="red"), ["body", "colour"]),
    ]
    for sent, location in cases:
        answer = await webhooks.http.post("/webhooks/endpoints", json=sent, headers=webhooks.auth(org))
        assert answer.status_code == 422, sent
        assert [d["loc"] for d in answer.json()["detail"]] == [location], answer.json()
    assert (await webhooks.http.get("/webhooks/endpoints", headers=webhooks.auth(org))).json() == []


async def test_only_an_org_admin_manages_webhooks(webhooks: Webhooks, org: UUID) -> None:
    assert (await webhooks.http.get("/webhooks/endpoints")).status_code == 401
    for role in (Role.CASEWORKER, Role.COORDINATOR, Role.OPERATOR, Role.INTEGRATOR):
        answer = await webhooks.http.get("/webhooks/endpoints", headers=webhooks.auth(org, role))
        assert answer.status_code == 403, role
    offered = (await webhooks.http.get("/webhooks/event-types", headers=webhooks.auth(org))).json()
    names = {t["type"] for t in offered["event_types"]}
    assert OPENED in names and "org.refuge.person.erased.v1" in names
    assert "org.refuge.person.registered.v1" not in names


async def test_update_rotate_and_delete(
    webhooks: Webhooks, org: UUID, capfd: pytest.CaptureFixture[str]
) -> None:
    endpoint = await webhooks.register(org, "/rotating", OPENED)
    first_secret = endpoint["secret"]
    path = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    changed = await webhooks.http.patch(
        path, json={"event_types": [OPENED, CLOSED], "description": "CRM"}, headers=webhooks.auth(org)
    )
    assert changed.status_code == 200 and changed.json()["event_types"] == [OPENED, CLOSED]
    assert "secret" not in changed.json()
    rotated = (await webhooks.http.post(f"{path}/rotate-secret", headers=webhooks.auth(org))).json()
    second_secret = rotated["secret"]
    assert second_secret != first_secret and rotated["previous_secret_valid_until"]

    await webhooks.publish(org, case_opened(org))
    await webhooks.settled(org, endpoint, 1)
    [during] = webhooks.receiver.to("/rotating")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert signature_valid(first_secret, during.headers, during.body)
    assert signature_valid(second_secret, during.headers, during.body)

    third = await webhooks.http.post(
        f"{path}/rotate-secret", json={"previous_valid_seconds": 0}, headers=webhooks.auth(org)
    )
    third_secret = third.json()["secret"]
    webhooks.receiver.secrets["/rotating"] = third_secret
    await webhooks.publish(org, case_opened(org))
    await webhooks.settled(org, endpoint, 2)
    after = webhooks.receiver.to("/rotating")[-1]
    assert after.valid and " " not in after.headers["webhook-signature"]
    assert not signature_valid(second_secret, after.headers, after.body)

    # The secrets are never logged, and never stored in clear.
    output = "".join(capfd.readouterr())
    assert "webhook_secret_rotated" in output and "webhook_delivered" in output  # the logs were captured
    admin = await asyncpg.connect(webhooks.admin_dsn)  # the owner: row-level security does not hide it
    try:
        stored = await admin.fetchval(
            "SELECT secret::text FROM notifications.webhook_endpoints WHERE endpoint_id = $1",
            UUID(endpoint["endpoint_id"]),
        )
    finally:
        await admin.close()
    assert stored is not None and "ciphertext" in stored
    for secret in (first_secret, second_secret, third_secret):
        raw = secret.removeprefix("whsec_")
        assert raw not in output and raw not in str(stored)

    assert (await webhooks.http.delete(path, headers=webhooks.auth(org))).status_code == 204
    assert (await webhooks.http.get(path, headers=webhooks.auth(org))).status_code == 404


async def test_three_delivery_loops_never_post_one_delivery_twice(
    webhooks: Webhooks, org: UUID, database_url: str, master_key: str
) -> None:
    """The service's own loop and two more, as other notification processes would run them."""

    count = 12
    webhooks.receiver.scripts["/contended"] = [SLOW] * count
    endpoint = await webhooks.register(org, "/contended")
    pools = [await create_pool(app_dsn(database_url, SCHEMA), schema=SCHEMA.schema) for _ in range(2)]
    loops: list[asyncio.Task[None]] = []
    for pool in pools:
        endpoints = WebhookEndpoints(
            constant(pool),
            OrganisationSecrets(MasterKeyWrapper(master_key)),
            allow_http_loopback=True,
        )
        policy = attempt_policy(webhooks.settings)
        dispatcher = WebhookDispatcher(
            constant(pool), endpoints, policy, timeout=5.0, lease_margin=5.0, allow_loopback=True
        )
        loops.append(asyncio.create_task(dispatcher.run()))
    try:
        await webhooks.publish(org, *(case_opened(org) for _ in range(count)))
        found = await webhooks.settled(org, endpoint, count)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for pool in pools:
            await pool.close()
    assert all((d["status"], d["attempts"]) == ("succeeded", 1) for d in found)
    posted = [r.headers["webhook-id"] for r in webhooks.receiver.to("/contended")]
    assert sorted(posted) == sorted(d["delivery_id"] for d in found)  # each once
    assert webhooks.receiver.most_in_flight == 1
