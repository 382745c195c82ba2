"""Dispatcher → local SMTP and SMS sinks: messages sent per second, with zero duplicates.

N SMS, then N e-mails, to N beneficiaries (consent given, contact sealed, daytime in their
zone) are planned straight into the delivery log: the Kafka side is what ``consumer_apply``
measures. One ``Dispatcher`` built as the service builds it (``NOTIFICATIONS_DISPATCH_CONCURRENCY``
sends at a time, ``SMTP_POOL_SIZE`` SMTP connections reused, one httpx client with keep-alive,
no rate limit) sends them through the whole at-most-once path (claim, compose: key, consent,
contact, seal opened, template; ``sending`` committed; provider call; ``sent`` and its
outbox event committed) to ``make run``'s sinks: aiosmtpd, and the HTTP SMS sink (generic
webhook), served by another process. Timed: from the dispatcher's start to the last row
settled. Then every message the sinks received is matched against the log: each idempotency
key exactly once, none missing, none failed; any duplicate fails the benchmark. The same
with one send at a time (the dispatcher before it was concurrent) on N/5, for comparison.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.common import Row, create_database, drop_database, rate
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_notifications.adapters import beneficiaries, delivery_log, directory_copy
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.domain.signatures import UnsubscribeTokens
from refuge_notifications.entrypoints.dispatcher import BeneficiaryChannels, Dispatcher
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.sms_routing import SmsRouting
from refuge_notifications.settings import NotificationsSettings

NAME = "notifications_send"


def _serve_sinks(smtp_port: int, http_port: int) -> None:
    """The sinks, in their own process (as ``make run`` runs them beside the services)."""

    from refuge_devstack.mail_sink import MailSink
    from refuge_devstack.sms_sink import SmsSinkServer, SmsStore

    mail = MailSink(port=smtp_port)
    mail.start()
    SmsSinkServer(SmsStore(None), http_port, mail).start()
    while True:
        time.sleep(3600)


def _daytime_zone() -> str:
    """A fixed-offset zone where it is now about noon: no SMS is held for quiet hours."""

    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


async def _seed(url: str, keyring: Keyring, tenant: uuid.UUID, count: int, sink: str) -> list[uuid.UUID]:
    """``count`` beneficiaries who agreed to SMS and e-mail; their ids."""

    zone = _daytime_zone()
    persons = [uuid.uuid4() for _ in range(count)]
    owner = await create_pool(url, size=1, schema=SCHEMA.schema)  # with the service's JSON codecs
    try:
        connection = await owner.acquire()
        await directory_copy.upsert_organisation(connection, tenant, "Refuge Bench", "fr")
        for number, person in enumerate(persons):
            async with connection.transaction():
                key = await keyring.create(connection, person, tenant)
                contact = {"phone": f"+3361{number:07d}", "email": f"p{number}@bench.example"}
                await beneficiaries.upsert_person(
                    connection,
                    person_id=person,
                    tenant_id=tenant,
                    preferred_language="fr",
                    timezone=zone,
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
        await owner.release(connection)
    finally:
        await owner.close()
    return persons


async def _plan(
    url: str, tenant: uuid.UUID, persons: list[uuid.UUID], channel: NotificationChannel
) -> set[str]:
    """One pending reminder per person on ``channel``; their idempotency keys."""

    due = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    keys = set()
    owner = await create_pool(url, size=1, schema=SCHEMA.schema)
    try:
        async with owner.acquire() as connection, connection.transaction():
            for person in persons:
                planned = PlannedDelivery(
                    delivery_id=uuid.uuid4(),
                    tenant_id=tenant,
                    trigger_event_id=str(uuid.uuid4()),
                    trigger_source="/refuge/bench",
                    channel=channel,
                    recipient_kind=RecipientKind.BENEFICIARY,
                    recipient_id=person,
                    template="beneficiary_reminder",
                    context={"purpose": "appeal", "due": due, "timezone": "Europe/Paris", "offset": "P7D"},
                    case_id=uuid.uuid4(),
                    deadline_id=uuid.uuid4(),
                )
                assert await delivery_log.plan_delivery(connection, planned)
                keys.add(planned.idempotency_key)
    finally:
        await owner.close()
    return keys


async def _send_all(
    dispatcher: Dispatcher, pool: asyncpg.Pool, keys: set[str]
) -> tuple[float, float, collections.Counter[str]]:
    """Run the dispatcher until every row of ``keys`` is settled; (seconds, CPU seconds of
    this process, rows by status)."""

    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(dispatcher.run())
    try:
        while True:
            rows = await pool.fetch(
                "SELECT status, count(*) AS n FROM deliveries WHERE idempotency_key = ANY($1::text[]) "
                "AND status IN ('sent', 'failed', 'unknown', 'suppressed') GROUP BY status",
                list(keys),
            )
            statuses = collections.Counter({row["status"]: row["n"] for row in rows})
            if sum(statuses.values()) >= len(keys):
                return time.perf_counter() - started, time.process_time() - cpu, statuses
            if task.done():
                task.result()
                raise RuntimeError("the dispatcher stopped")
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _exactly_once(received: list[str], keys: set[str], channel: str) -> None:
    counts = collections.Counter(key for key in received if key in keys)
    duplicates = {key: n for key, n in counts.items() if n > 1}
    missing = keys - set(counts)
    assert not duplicates, f"{channel}: {len(duplicates)} messages received more than once"
    assert not missing, f"{channel}: {len(missing)} messages never received"


async def _received(sink: str) -> tuple[list[str], list[str]]:
    """Idempotency keys of the SMS and of the e-mails (Message-ID) the sinks hold."""

    async with httpx.AsyncClient(timeout=120) as client:
        sms = (await client.get(f"{sink}/sms")).json()
        mail = (await client.get(f"{sink}/mail")).json()
    return (
        [m["idempotency_key"] for m in sms],
        [str(m["message_id"]).strip("<>").split("@")[0] for m in mail],
    )


async def _main(count: int) -> list[Row]:
    smtp_port, http_port = free_port(), free_port()
    sinks = multiprocessing.get_context("spawn").Process(target=_serve_sinks, args=(smtp_port, http_port))
    sinks.start()
    sink = f"http://127.0.0.1:{http_port}"
    url = await create_database()
    master = base64.b64encode(os.urandom(32)).decode()
    settings = NotificationsSettings(database_url=url, REFUGE_MASTER_KEY=master)
    rows: list[Row] = []
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    (await client.get(f"{sink}/sms")).raise_for_status()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
        await migrate_service(settings, SCHEMA)
        wrapper = MasterKeyWrapper(master)
        keyring = Keyring(wrapper)
        tenant = uuid.uuid4()
        persons = await _seed(url, keyring, tenant, count, sink)
        pool = await create_pool(
            app_dsn(url, SCHEMA, None), size=settings.database_pool_size, schema=SCHEMA.schema
        )
        try:
            channels = BeneficiaryChannels(
                sms=SmsRouting(
                    OrganisationSecrets(wrapper),
                    public_url="http://127.0.0.1",
                    default_webhook_url=f"{sink}/sms",
                ),
                unsubscribe=UnsubscribeTokens(os.urandom(32)),
            )

            def dispatcher(concurrency: int) -> Dispatcher:
                email = SmtpSender(
                    host="127.0.0.1",
                    port=smtp_port,
                    sender=settings.smtp_from,
                    timeout=settings.smtp_timeout_seconds,
                    pool_size=settings.smtp_pool_size,
                )
                return Dispatcher(
                    lambda: pool,
                    keyring,
                    email,
                    max_attempts=settings.notifications_max_attempts,
                    lease_seconds=settings.notifications_send_lease_seconds,
                    beneficiaries=channels,
                    concurrency=concurrency,
                )

            concurrency = settings.notifications_dispatch_concurrency
            phases = [
                (f"{concurrency} at a time", concurrency, persons),
                ("one at a time", 1, persons[: max(100, count // 5)]),
            ]
            all_keys: dict[str, set[str]] = {"sms": set(), "email": set()}
            for label, width, who in phases:
                for channel in (NotificationChannel.SMS, NotificationChannel.EMAIL):
                    keys = await _plan(url, tenant, who, channel)
                    all_keys[channel.value] |= keys
                    seconds, cpu, statuses = await _send_all(dispatcher(width), pool, keys)
                    assert statuses == {"sent": len(keys)}, f"{channel.value}: {dict(statuses)}"
                    print(f"   {channel.value:>5} {label}: {len(keys)} in {seconds:.2f}s", flush=True)
                    rows.append(
                        Row(
                            NAME,
                            f"{channel.value} sent, {label}",
                            rate(len(keys), seconds),
                            "msg/s",
                            f"n={len(keys)}, {1000 * cpu / len(keys):.1f} ms CPU/msg in the dispatcher",
                        )
                    )
            sms_received, mail_received = await _received(sink)
            _exactly_once(sms_received, all_keys["sms"], "sms")
            _exactly_once(mail_received, all_keys["email"], "email")
            total = len(all_keys["sms"]) + len(all_keys["email"])
            rows.append(Row(NAME, "duplicates", 0, "messages", f"of {total} checked against the sinks"))
        finally:
            await pool.close()
    finally:
        sinks.terminate()
        sinks.join(10)
        await drop_database(url)
    return rows


def run(scale: float = 1.0) -> list[Row]:
    return asyncio.run(_main(max(200, int(2_000 * scale))))
