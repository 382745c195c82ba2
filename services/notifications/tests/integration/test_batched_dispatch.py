"""The dispatcher's batches on the real PostgreSQL and sinks: what a batch's messages depend
on is read when it is claimed, per message (an erased person or a withdrawn consent stops
that message and no other), and the grouped writes keep each row's own fence."""

from __future__ import annotations

import asyncio
import base64
import collections
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.service_main import migrate_service
from refuge_devstack.mail_sink import MailSink
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.sms_sink import SmsSinkServer
from refuge_notifications.adapters import beneficiaries, delivery_log, directory_copy
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.domain.signatures import UnsubscribeTokens
from refuge_notifications.entrypoints.dispatcher import BeneficiaryChannels, Dispatcher
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.outgoing import Outgoing
from refuge_notifications.service_layer.sent_batches import SendWrites
from refuge_notifications.service_layer.sms_routing import SmsRouting
from refuge_notifications.settings import NotificationsSettings

pytestmark = pytest.mark.integration
FINAL = ("sent", "failed", "unknown", "suppressed")


@dataclass
class World:
    owner: asyncpg.Pool  # the database's owner: seeds, and erases as intake does
    pool: asyncpg.Pool  # the service's own role, as the dispatcher runs
    keyring: Keyring
    wrapper: MasterKeyWrapper
    mail: MailSink
    sms: SmsSinkServer
    tenant: uuid.UUID


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    """A database of this module's own: no other module's pending rows to dispatch."""

    with throwaway_database() as url:
        yield url


@pytest.fixture
async def world(own_database: str, sinks: tuple[MailSink, SmsSinkServer]) -> AsyncIterator[World]:
    master = base64.b64encode(os.urandom(32)).decode()
    settings = NotificationsSettings(database_url=own_database, REFUGE_MASTER_KEY=master)
    await migrate_service(settings, SCHEMA)
    owner = await create_pool(own_database, size=2, schema=SCHEMA.schema)
    pool = await create_pool(app_dsn(own_database, SCHEMA, None), size=5, schema=SCHEMA.schema)
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


async def _people(world: World, count: int) -> list[uuid.UUID]:
    """``count`` beneficiaries who agreed to SMS and e-mail."""

    persons = [uuid.uuid4() for _ in range(count)]
    async with world.owner.acquire() as connection:
        for person in persons:
            async with connection.transaction():
                key = await world.keyring.create(connection, person, world.tenant)
                contact = {"phone": f"+3361{uuid.uuid4().int % 10**7:07d}", "email": f"{person}@example.org"}
                await beneficiaries.upsert_person(
                    connection,
                    person_id=person,
                    tenant_id=world.tenant,
                    preferred_language="fr",
                    timezone=_daytime_zone(),
                    personal_data=seal(key, person, contact),
                    phone_hash=None,
                )
                for channel in ("sms", "email"):
                    await beneficiaries.record_consent(
                        connection,
                        person_id=person,
                        tenant_id=world.tenant,
                        channel=channel,
                        given=True,
                        recorded_at=datetime.now(UTC),
                        source="case_event",
                    )
    return persons


async def _plan(
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


def _dispatcher(world: World, *, lease_seconds: int = 5) -> Dispatcher:
    channels = BeneficiaryChannels(
        sms=SmsRouting(
            OrganisationSecrets(world.wrapper),
            public_url="http://notifications.test",
            default_webhook_url=f"{world.sms.url}/sms",
        ),
        unsubscribe=UnsubscribeTokens(os.urandom(32)),
        sms_timeout=2.0,
    )
    email = SmtpSender(host="127.0.0.1", port=world.mail.port, sender="no-reply@refuge.test", timeout=5)
    return Dispatcher(
        lambda: world.pool,
        world.keyring,
        email,
        max_attempts=3,
        lease_seconds=lease_seconds,
        beneficiaries=channels,
        concurrency=4,
        batch_size=50,
    )


async def _statuses(world: World, keys: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = await world.owner.fetch(
        "SELECT idempotency_key, status, last_error FROM deliveries WHERE idempotency_key = ANY($1::text[])",
        keys,
    )
    return {row["idempotency_key"]: (row["status"], row["last_error"]) for row in rows}


async def _dispatch_until_settled(
    world: World, keys: list[str], dispatcher: Dispatcher
) -> dict[str, tuple[str, str | None]]:
    task = asyncio.create_task(dispatcher.run())
    try:
        while True:
            statuses = await _statuses(world, keys)
            if all(status in FINAL for status, _ in statuses.values()):
                return statuses
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _sms_received(world: World, keys: list[str]) -> collections.Counter[str]:
    return collections.Counter(
        m["idempotency_key"] for m in world.sms.store.messages if m["idempotency_key"] in keys
    )


def _mail_received(world: World, keys: list[str]) -> collections.Counter[str]:
    ids = (str(m.message["Message-ID"]).strip("<>").split("@")[0] for m in world.mail.messages)
    return collections.Counter(key for key in ids if key in keys)


@pytest.mark.parametrize("channel", [NotificationChannel.SMS, NotificationChannel.EMAIL])
async def test_one_batch_reaches_everyone_but_the_erased_person_and_the_one_who_withdrew(
    world: World, channel: NotificationChannel
) -> None:
    persons = await _people(world, 5)
    keys = await _plan(world, persons, channel)
    # Between planning and the claim: one person's key is destroyed (erasure), another
    # withdraws consent. Written straight to the tables, before the events that would also
    # suppress their rows are applied: only the claim-time read can stop these two.
    async with world.owner.acquire() as connection:
        await connection.execute("DELETE FROM keyring.subject_keys WHERE subject_id = $1", persons[1])
        await connection.execute(
            "UPDATE consents SET given = false, recorded_at = now() WHERE person_id = $1 AND channel = $2",
            persons[3],
            channel.value,
        )

    statuses = await _dispatch_until_settled(world, keys, _dispatcher(world))

    assert statuses[keys[1]] == ("suppressed", "erased")
    assert statuses[keys[3]] == ("suppressed", "opted_out")
    sent = [keys[0], keys[2], keys[4]]
    assert all(statuses[key][0] == "sent" for key in sent)
    received = (
        _sms_received(world, keys) if channel is NotificationChannel.SMS else _mail_received(world, keys)
    )
    assert received == collections.Counter(sent)  # each once, and nothing to the two others
    events = await world.owner.fetch(
        "SELECT event_type, count(*) AS n FROM outbox WHERE tenant_id = $1 GROUP BY event_type", world.tenant
    )
    counts = {row["event_type"].split(".")[-2]: row["n"] for row in events}
    assert counts["sent"] >= 3 and counts["suppressed"] >= 2
    # The grouped events are outbox rows like any other: headers an object, one row each.
    shapes = await world.owner.fetch(
        "SELECT DISTINCT jsonb_typeof(headers) AS shape, count(*) OVER (PARTITION BY event_id) AS copies "
        "FROM outbox WHERE tenant_id = $1",
        world.tenant,
    )
    assert {(row["shape"], row["copies"]) for row in shapes} == {("object", 1)}


async def test_a_withdrawal_after_the_claim_is_refused_at_sending_and_only_that_row(world: World) -> None:
    persons = await _people(world, 2)
    await _plan(world, persons, NotificationChannel.SMS)
    claimed = await delivery_log.claim_deliveries(world.pool, 10, 30)
    assert len(claimed) == 2
    async with world.owner.acquire() as connection:  # what a consent withdrawal does meanwhile
        await delivery_log.suppress_open_deliveries(connection, world.tenant, persons[1], "sms", "opted_out")
    by_person = {row["recipient_id"]: row for row in claimed}

    writes = SendWrites(world.pool)
    began = await asyncio.gather(
        writes.begin_sending(by_person[persons[0]], 30), writes.begin_sending(by_person[persons[1]], 30)
    )

    assert list(began) == [True, False]  # one group, each row fenced by its own claim
    rows = await world.owner.fetch(
        "SELECT recipient_id, status FROM deliveries WHERE recipient_id = ANY($1::uuid[])", persons
    )
    statuses = {row["recipient_id"]: row["status"] for row in rows}
    assert statuses == {persons[0]: "sending", persons[1]: "suppressed"}


async def test_a_dispatcher_that_died_after_committing_sending_is_never_sent_again(world: World) -> None:
    [person] = await _people(world, 1)
    keys = await _plan(world, [person], NotificationChannel.SMS)
    [row] = await delivery_log.claim_deliveries(world.pool, 10, 30)
    # The dead dispatcher: *sending* committed (lease of a second), then gone before the call.
    assert await SendWrites(world.pool).begin_sending(row, 1)

    statuses = await _dispatch_until_settled(world, keys, _dispatcher(world, lease_seconds=1))

    assert statuses[keys[0]] == ("unknown", "dispatcher stopped during the provider call")
    assert _sms_received(world, keys) == collections.Counter()  # not sent again by the next one


async def test_a_group_of_sends_of_two_tenants_settles_each_row_under_its_claim_with_its_event(
    world: World,
) -> None:
    # Settled in one statement without a transaction around it: each row still needs its own
    # claim, and gets its own event, of its own tenant, only if it was settled.
    other = uuid.uuid4()
    await _plan(world, [uuid.uuid4(), uuid.uuid4()], NotificationChannel.SMS)
    await _plan(world, [uuid.uuid4()], NotificationChannel.SMS, tenant=other)
    claimed = await delivery_log.claim_deliveries(world.pool, 10, 30)
    assert len(claimed) == 3
    writes = SendWrites(world.pool)
    assert all(await asyncio.gather(*(writes.begin_sending(row, 30) for row in claimed)))
    lapsed = next(row for row in claimed if row["tenant_id"] == world.tenant)
    async with world.owner.acquire() as connection:  # its lease lapsed and another took it
        await connection.execute(
            "UPDATE deliveries SET claim_token = gen_random_uuid() WHERE delivery_id = $1",
            lapsed["delivery_id"],
        )

    async def no_call(_before: object) -> str | None:
        raise AssertionError("nothing is sent here")

    outgoing = Outgoing(send=no_call, timeout=1.0, provider="sms-webhook", language="fr")
    await asyncio.gather(*(writes.finish_sent(row, outgoing, f"SM{row['delivery_id']}") for row in claimed))

    ids = [row["delivery_id"] for row in claimed]
    rows = await world.owner.fetch(
        "SELECT delivery_id, status, provider_message_id FROM deliveries WHERE delivery_id = ANY($1::uuid[])",
        ids,
    )
    expected = {
        row["delivery_id"]: ("sending", None) if row is lapsed else ("sent", f"SM{row['delivery_id']}")
        for row in claimed
    }
    assert {row["delivery_id"]: (row["status"], row["provider_message_id"]) for row in rows} == expected
    events = await world.owner.fetch(
        "SELECT tenant_id, event_type, value FROM outbox WHERE event_type LIKE '%.sent%'"
    )
    reported = {
        row["delivery_id"]: [
            (e["tenant_id"], e["event_type"])
            for e in events
            if str(row["delivery_id"]).encode() in e["value"]
        ]
        for row in claimed
    }
    assert reported[lapsed["delivery_id"]] == []
    for row in claimed:
        if row is not lapsed:
            [(tenant, event_type)] = reported[row["delivery_id"]]
            assert tenant == row["tenant_id"] and event_type.endswith(".sent.v1")
