"""What the dispatcher tests share: a database of their own with the service's role, seeded
beneficiaries and reminders planned straight into the delivery log, a dispatcher wired to
the test's sinks, and what the sinks received."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.service_main import migrate_service
from refuge_devstack.mail_sink import MailSink
from refuge_devstack.sms_sink import SmsSinkServer
from refuge_notifications.adapters import beneficiaries, delivery_log, directory_copy
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.domain.signatures import UnsubscribeTokens
from refuge_notifications.entrypoints.dispatcher import BeneficiaryChannels, Dispatcher
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.sms_routing import SmsRouting
from refuge_notifications.settings import NotificationsSettings

FINAL = ("sent", "failed", "unknown", "suppressed")


@dataclass
class World:
    owner: asyncpg.Pool  # the database's owner: seeds, and erases as intake does
    pool: asyncpg.Pool  # the service's own role, across tenants, as the dispatcher runs
    keyring: Keyring
    wrapper: MasterKeyWrapper
    mail: MailSink
    sms: SmsSinkServer
    tenant: uuid.UUID


@contextlib.asynccontextmanager
async def open_world(database: str, sinks: tuple[MailSink, SmsSinkServer]) -> AsyncIterator[World]:
    """The migrated ``database``, its delivery log emptied, and one organisation."""

    master = base64.b64encode(os.urandom(32)).decode()
    settings = NotificationsSettings(database_url=database, REFUGE_MASTER_KEY=master)
    await migrate_service(settings, SCHEMA)
    owner = await create_pool(database, size=2, schema=SCHEMA.schema)
    pool = await create_pool(
        app_dsn(database, SCHEMA, None), size=5, schema=SCHEMA.schema, across_tenants=True
    )
    async with owner.acquire() as connection:
        await connection.execute("DELETE FROM deliveries")
    wrapper = MasterKeyWrapper(master)
    tenant = uuid.uuid4()
    async with owner.acquire() as connection:
        await directory_copy.upsert_organisation(connection, tenant, "La Cimade", "fr")
    try:
        yield World(owner, pool, Keyring(wrapper), wrapper, *sinks, tenant)
    finally:
        await pool.close()
        await owner.close()


def _daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now: no SMS is held for quiet hours."""

    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


async def people(world: World, count: int, tenant: uuid.UUID | None = None) -> list[uuid.UUID]:
    """``count`` beneficiaries (of ``tenant``, by default the world's) who agreed to SMS and
    e-mail."""

    tenant = tenant or world.tenant
    persons = [uuid.uuid4() for _ in range(count)]
    async with world.owner.acquire() as connection:
        if tenant != world.tenant:
            await directory_copy.upsert_organisation(connection, tenant, "Forum Réfugiés", "fr")
        for person in persons:
            async with connection.transaction():
                key = await world.keyring.create(connection, person, tenant)
                contact = {"phone": f"+3361{uuid.uuid4().int % 10**7:07d}", "email": f"{person}@example.org"}
                await beneficiaries.upsert_person(
                    connection,
                    person_id=person,
                    tenant_id=tenant,
                    preferred_language="fr",
                    timezone=_daytime_zone(),
                    personal_data=seal(key, person, contact),
                    phone_hash=None,
                )
                for channel in ("sms", "email"):
                    await beneficiaries.record_consent(
                        connection,
                        person_id=person,
                        tenant_id=tenant,
                        channel=channel,
                        given=True,
                        recorded_at=datetime.now(UTC),
                        source="case_event",
                    )
    return persons


async def plan(
    world: World, persons: list[uuid.UUID], channel: NotificationChannel, tenant: uuid.UUID | None = None
) -> list[str]:
    """A pending reminder for each person (of ``tenant``, by default the world's); their
    idempotency keys, in the same order."""

    due = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    keys = []
    async with world.owner.acquire() as connection:
        for person in persons:
            planned = PlannedDelivery(
                delivery_id=uuid.uuid4(),
                tenant_id=tenant or world.tenant,
                trigger_event_id=str(uuid.uuid4()),
                trigger_source="/refuge/deadlines",
                channel=channel,
                recipient_kind=RecipientKind.BENEFICIARY,
                recipient_id=person,
                template="beneficiary_reminder",
                context={"purpose": "appeal", "due": due, "timezone": "Europe/Paris", "offset": "P7D"},
                case_id=uuid.uuid4(),
                deadline_id=uuid.uuid4(),
            )
            assert await delivery_log.plan_delivery(connection, planned)
            keys.append(planned.idempotency_key)
    return keys


def dispatcher(
    world: World,
    *,
    lease_seconds: int = 5,
    smtp_port: int | None = None,
    smtp_timeout: int = 5,
    smtp_pool_size: int = 4,
    sms_timeout: float = 2.0,
    concurrency: int = 4,
) -> Dispatcher:
    """To the world's sinks (or to the SMTP server on ``smtp_port``)."""

    channels = BeneficiaryChannels(
        sms=SmsRouting(
            OrganisationSecrets(world.wrapper),
            public_url="http://notifications.test",
            default_webhook_url=f"{world.sms.url}/sms",
        ),
        unsubscribe=UnsubscribeTokens(os.urandom(32)),
        sms_timeout=sms_timeout,
    )
    email = SmtpSender(
        host="127.0.0.1",
        port=smtp_port or world.mail.port,
        sender="no-reply@refuge.test",
        timeout=smtp_timeout,
        pool_size=smtp_pool_size,
    )
    return Dispatcher(
        lambda: world.pool,
        world.keyring,
        email,
        max_attempts=3,
        lease_seconds=lease_seconds,
        beneficiaries=channels,
        concurrency=concurrency,
        batch_size=50,
    )


async def statuses(world: World, keys: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = await world.owner.fetch(
        "SELECT idempotency_key, status, last_error FROM deliveries WHERE idempotency_key = ANY($1::text[])",
        keys,
    )
    return {row["idempotency_key"]: (row["status"], row["last_error"]) for row in rows}


async def until_settled(
    world: World, keys: list[str], task: asyncio.Task[None]
) -> dict[str, tuple[str, str | None]]:
    """The rows of ``keys`` once every one is settled, while ``task`` dispatches."""

    while True:
        found = await statuses(world, keys)
        if len(found) == len(keys) and all(status in FINAL for status, _ in found.values()):
            return found
        assert not task.done(), task.exception()
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(dispatching: Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    """The dispatcher running in a task for the block, stopped after it."""

    task = asyncio.create_task(dispatching.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def dispatch_until_settled(
    world: World, keys: list[str], dispatching: Dispatcher
) -> dict[str, tuple[str, str | None]]:
    async with running(dispatching) as task:
        return await until_settled(world, keys, task)


def sms_received(world: World, keys: list[str]) -> collections.Counter[str]:
    return collections.Counter(
        m["idempotency_key"] for m in world.sms.store.messages if m["idempotency_key"] in keys
    )


def mail_received(world: World, keys: list[str]) -> collections.Counter[str]:
    ids = (str(m.message["Message-ID"]).strip("<>").split("@")[0] for m in world.mail.messages)
    return collections.Counter(key for key in ids if key in keys)
