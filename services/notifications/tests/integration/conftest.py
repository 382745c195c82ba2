"""Notifications in-process on the real broker and database, with the real SMTP sink and the
real HTTP SMS sink; persons, cases, consents and reminders published to Kafka as intake and
deadlines would, and a clock the tests move (quiet hours without waiting for the night)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseConsentRecorded, CaseOpened
from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.directory import OfficeOpened, OrganisationRegistered
from refuge_common.contract.envelope import new_event, to_record
from refuge_common.contract.persons import PersonErased, PersonRegistered
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.mail_sink import MailSink, ReceivedMail
from refuge_devstack.ports import free_port
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.sms_sink import SmsSinkServer, SmsStore
from refuge_devstack.testing import eventually, tenant_events
from refuge_devstack.tokens import LocalIssuer
from refuge_notifications.bootstrap import build_app
from refuge_notifications.schema import SCHEMA
from refuge_notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from dispatch_support import World

# --import-mode=importlib puts no test directory on sys.path (as in reporting's conftest.py):
# the dispatcher tests import dispatch_support.py from here.
sys.path.insert(0, str(Path(__file__).parent))

T = TypeVar("T")
PUBLIC_URL = "http://notifications.test"
INBOUND_SECRET = "inbound-secret-for-tests"
# The consumer groups that keep the read-models and plan messages (other groups of this
# service, such as the webhooks', read the same events into the same inbox).
MESSAGE_CONSUMERS = tuple(
    f"refuge.notifications.{group}" for group in ("directory", "persons", "cases", "deadlines")
)


class MovableClock:
    """Real time plus an offset the test sets: the dispatcher's idea of "now"."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def daytime_in(self, *zones: str) -> None:
        """Move forward (never back: rows are due by the database's clock) until it is
        between 09:00 and 19:00 in every zone given."""

        self.offset = timedelta(0)
        for _ in range(48):
            now = self()
            if all(9 <= now.astimezone(ZoneInfo(z)).hour < 19 for z in zones):
                return
            self.offset += timedelta(hours=1)
        raise AssertionError(f"no common daytime in {zones}")

    def move_to(self, local: datetime) -> None:
        """Jump to the aware instant ``local`` (which must not be in the past)."""

        offset = local - datetime.now(UTC)
        assert offset >= timedelta(0), "the clock only moves forward"
        self.offset = offset


@dataclass
class Person:
    person_id: UUID
    tenant: UUID
    office: UUID
    case_id: UUID
    phone: str
    email: str
    timezone: str


@dataclass
class Notifications:
    app: Any
    settings: NotificationsSettings
    producer: EventProducer
    keyring: Keyring
    clock: MovableClock
    mail: MailSink
    sms: SmsSinkServer
    admin_dsn: str
    http: httpx.AsyncClient
    issuer: LocalIssuer
    _seen: dict[UUID, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    async def publish(self, tenant: UUID, *events: EventData, source: str = "/refuge/intake") -> list[str]:
        envelopes = [new_event(source, data, tenant) for data in events]
        await self.producer.send_in_order([to_record(e) for e in envelopes])
        return [e.id for e in envelopes]

    async def new_organisation(
        self, name: str = "La Cimade", language: str = "fr", timezone: str = "Europe/Paris"
    ) -> tuple[UUID, UUID]:
        tenant, office = uuid.uuid4(), uuid.uuid4()
        await self.publish(
            tenant,
            OrganisationRegistered(organisation_id=tenant, name=name, default_language=language),
            OfficeOpened(
                office_id=office,
                organisation_id=tenant,
                name="Permanence",
                kind="drop_in_clinic",
                timezone=timezone,
                jurisdiction="FR",
            ),
        )
        await self.eventually(
            lambda: self.fetchval("SELECT true FROM notifications.offices WHERE office_id = $1", office)
        )
        return tenant, office

    async def new_person(
        self,
        tenant: UUID,
        office: UUID,
        *,
        language: str = "fr",
        timezone: str | None = "Europe/Paris",
        sms: bool | None = True,
        email: bool | None = True,
        phone: str | None = None,
    ) -> Person:
        """A registered person with a case, and their consents as a caseworker records them."""

        person_id, case_id = uuid.uuid4(), uuid.uuid4()
        phone = phone or f"+336{uuid.uuid4().int % 10**8:08d}"
        address = f"p-{person_id.hex[:8]}@example.org"
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            key = await self.keyring.create(connection, person_id, tenant)
        finally:
            await connection.close()
        personal = seal(
            key,
            person_id,
            {
                "given_name": "Amina",
                "family_name": "Haddad",
                "phone": phone,
                "email": address,
                "birth_year": 1990,
            },
        )
        await self.publish(
            tenant,
            PersonRegistered(
                person_id=person_id, preferred_language=language, timezone=timezone, personal_data=personal
            ),
        )
        consents = [
            CaseConsentRecorded(
                case_id=case_id,
                purpose=purpose,
                given=given,
                recorded_at=datetime.now(UTC),
                person_id=person_id,
            )
            for purpose, given in (("sms", sms), ("email", email))
            if given is not None
        ]
        await self.publish(
            tenant,
            CaseOpened(
                case_id=case_id,
                organisation_id=tenant,
                office_id=office,
                case_type="removal_appeal",
                jurisdiction="FR",
                channel="in_person",
                opened_at=datetime.now(UTC),
                person_id=person_id,
            ),
            *consents,
        )
        await self.eventually(
            lambda: self.fetchval(
                "SELECT true FROM notifications.person_contacts WHERE person_id = $1", person_id
            )
        )
        await self.eventually(
            lambda: self.fetchval(
                "SELECT count(*) = $2 FROM notifications.consents WHERE person_id = $1",
                person_id,
                len(consents),
            )
        )
        await self.eventually(
            lambda: self.fetchval("SELECT true FROM notifications.case_persons WHERE case_id = $1", case_id)
        )
        return Person(person_id, tenant, office, case_id, phone, address, timezone or "Europe/Paris")

    async def record_consent(self, person: Person, purpose: str, given: bool, recorded_at: datetime) -> str:
        [event_id] = await self.publish(
            person.tenant,
            CaseConsentRecorded(
                case_id=person.case_id, purpose=purpose, given=given, recorded_at=recorded_at
            ),
        )
        return event_id

    async def applied(self, *event_ids: str) -> None:
        """Wait until the service applied these events (its inbox has them)."""

        await self.eventually(
            lambda: self.fetchval(
                """SELECT count(DISTINCT event_id) = $2 FROM notifications.inbox
                   WHERE event_id = ANY($1::text[]) AND consumer = ANY($3::text[])""",
                list(event_ids),
                len(event_ids),
                list(MESSAGE_CONSUMERS),
            )
        )

    async def erase(self, person: Person) -> None:
        """As intake does: delete the key, then say so."""

        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(
                "DELETE FROM keyring.subject_keys WHERE subject_id = $1", person.person_id
            )
        finally:
            await connection.close()
        await self.publish(
            person.tenant, PersonErased(person_id=person.person_id, erased_at=datetime.now(UTC))
        )

    async def remind(
        self,
        person: Person,
        *,
        due: datetime | None = None,
        offset: str = "P7D",
        purpose: str = "appeal",
        with_person_id: bool = True,
    ) -> str:
        if due is None:
            local = (self.clock() + timedelta(days=10)).astimezone(ZoneInfo("Europe/Paris"))
            due = local.replace(hour=23, minute=59, second=59, microsecond=0)
        [event_id] = await self.publish(
            person.tenant,
            ReminderDue(
                deadline_id=uuid.uuid4(),
                reminder_id=uuid.uuid4(),
                case_id=person.case_id,
                office_id=person.office,
                person_id=person.person_id if with_person_id else None,
                purpose=purpose,
                due=due,
                timezone="Europe/Paris",
                remind_at=self.clock(),
                offset=offset,
            ),
            source="/refuge/deadlines",
        )
        return event_id

    async def fetchval(self, query: str, *args: Any) -> Any:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            return [dict(r) for r in await connection.fetch(query, *args)]
        finally:
            await connection.close()

    async def deliveries(self, trigger_event_id: str) -> dict[str, dict[str, Any]]:
        """The delivery-log rows of one reminder, by channel and recipient kind."""

        rows = await self.fetch(
            "SELECT * FROM notifications.deliveries WHERE trigger_event_id = $1", trigger_event_id
        )
        return {f"{r['recipient_kind']}:{r['channel']}": r for r in rows}

    async def settled(
        self, trigger_event_id: str, count: int, statuses: set[str]
    ) -> dict[str, dict[str, Any]]:
        async def probe() -> dict[str, dict[str, Any]] | None:
            rows = await self.deliveries(trigger_event_id)
            done = len(rows) == count and all(r["status"] in statuses for r in rows.values())
            return rows if done else None

        return await self.eventually(probe)

    def sms_to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.sms.store.messages if m["to"] == phone]

    def mail_to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.mail.messages if address in m.envelope_to]

    async def events(self, tenant: UUID) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) of every notifications event of ``tenant`` so far, in order."""

        return await tenant_events(
            self.settings.kafka_bootstrap_servers, "refuge.notifications.v1", tenant, idle_ms=500
        )

    async def wait_events(
        self, tenant: UUID, predicate: Callable[[list[tuple[str, dict[str, Any]]]], bool]
    ) -> list[tuple[str, dict[str, Any]]]:
        async def probe() -> list[tuple[str, dict[str, Any]]] | None:
            found = await self.events(tenant)
            return found if predicate(found) else None

        return await self.eventually(probe)

    async def eventually(self, probe: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        return await eventually(probe, within=timeout)


@pytest.fixture(scope="module")
def sinks() -> Iterator[tuple[MailSink, SmsSinkServer]]:
    mail = MailSink(port=free_port())
    mail.start()
    sms = SmsSinkServer(SmsStore(None), free_port())
    sms.start()
    try:
        yield mail, sms
    finally:
        sms.stop()
        mail.stop()


@pytest.fixture(scope="module")
def token_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    """Intake's token issuer with its JWKS on a local port: staff routes verify real tokens."""

    local = LocalIssuer(tmp_path_factory.mktemp("issuer") / "key.pem")
    try:
        yield local
    finally:
        local.close()


@pytest.fixture(scope="module")
async def notifications(
    kafka_bootstrap_servers: str,
    database_url: str,
    sinks: tuple[MailSink, SmsSinkServer],
    master_key: str,
    token_issuer: LocalIssuer,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Notifications]:
    mail, sms = sinks
    master = master_key
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        outbox_poll_interval_ms=100,
        consumer_backoff_initial_ms=20,
        consumer_max_attempts=2,
        consumer_session_timeout_ms=3000,
        smtp_host="127.0.0.1",
        smtp_port=mail.port,
        smtp_timeout_seconds=5,
        notifications_send_lease_seconds=5,
        notifications_max_attempts=4,
        # No wait for a consent not yet arrived, unless the module asks for one: the tests of
        # that wait set the clock; the others expect no consent to mean no message at once.
        notifications_consent_wait_seconds=getattr(request.module, "CONSENT_WAIT_SECONDS", 0),
        notifications_public_url=PUBLIC_URL,
        notifications_sms_default_webhook_url=f"{sms.url}/sms",
        notifications_sms_default_inbound_secret=INBOUND_SECRET,
        notifications_sms_timeout_seconds=1.0,
        notifications_digest_interval_seconds=0.5,
        jwks_url=token_issuer.jwks_url,
        REFUGE_MASTER_KEY=master,
    )
    await migrate_service(settings, SCHEMA)
    clock = MovableClock()
    app = build_app(settings, clock=clock)
    producer = EventProducer(kafka_bootstrap_servers, "notifications-tests")
    await producer.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as http,
        ):
            yield Notifications(
                app=app,
                settings=settings,
                producer=producer,
                keyring=Keyring(MasterKeyWrapper(master)),
                clock=clock,
                mail=mail,
                sms=sms,
                admin_dsn=database_url,
                http=http,
                issuer=token_issuer,
            )
    finally:
        await producer.stop()


@pytest.fixture(autouse=True)
def _daytime_and_a_well_behaved_sink(request: pytest.FixtureRequest) -> Iterator[None]:
    if "notifications" not in request.fixturenames:
        yield
        return
    n: Notifications = request.getfixturevalue("notifications")
    n.clock.daytime_in("Europe/Paris")
    n.sms.store.clear_faults()
    yield
    n.sms.store.clear_faults()


# The dispatcher tests' (dispatch_support.py): each module its own database and world.
@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    """A database of the module's own: no other module's pending rows to dispatch."""

    with throwaway_database() as url:
        yield url


@pytest.fixture
async def world(own_database: str, sinks: tuple[MailSink, SmsSinkServer]) -> AsyncIterator[World]:
    from dispatch_support import open_world  # on sys.path once this module has run

    async with open_world(own_database, sinks) as opened:
        yield opened
