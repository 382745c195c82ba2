"""Dispatcher → local SMTP and SMS sinks: messages sent per second, with zero duplicates.

N beneficiaries (consent given, contact sealed, daytime in their zone); each phase plans one
reminder per person on one channel straight into the delivery log (the Kafka side is what
``consumer_apply`` measures), makes them due at once when its dispatchers are ready, and
times until every row is settled. Each dispatcher is built as the service builds it
(``NOTIFICATIONS_DISPATCH_CONCURRENCY`` sends in flight, ``SMTP_POOL_SIZE`` SMTP connections
reused, no rate limit), runs on uvloop as the service does under uvicorn, and takes every
message through the whole at-most-once path (batch claim, compose: key, consent, contact,
seal opened, template; ``sending`` committed; provider call over a real socket; ``sent`` and
its outbox event committed) to ``make run``'s sinks, served by another process: aiosmtpd,
and the HTTP SMS sink (generic webhook).

Each dispatcher logs as the service does (JSON lines at INFO, ``configure_logging``), to a
file beside the run instead of the terminal (removed at the end).

Phases: SMS and e-mail with the service's defaults; e-mail with as many SMTP connections as
sends in flight; both again with two dispatcher processes (two replicas of the service
sharing the log through ``FOR UPDATE SKIP LOCKED``); SMS again with five times as many due at
once (five reminders a person), as when quiet hours end: the rate must not fall as the
queue grows. Each row gives CPU per message of the
dispatchers, of the sinks' process and of the PostgreSQL backends serving the database.
Then every message the sinks received is matched against the log: each idempotency key
exactly once, none missing, none failed; any duplicate fails the benchmark.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import multiprocessing
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import structlog
import uvloop

from bench.common import (
    Row,
    backends_cpu_since,
    create_database,
    database_backends_cpu,
    drop_database,
    process_cpu_seconds,
    rate,
)
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.observability.logging import configure_logging
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
BACKLOG_ROUNDS = 5  # the backlog phase: this many reminders per person
DUE_DAYS = 30
PURPOSES = ("appeal", "legal_aid_request", "asylum_filing", "renewal_window_closes")


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
    """One pending reminder per person on ``channel``; their idempotency keys.

    Varied as a morning's reminders are: deadlines on 30 different days (at 23:59:59 in
    Paris, as the deadlines service sets them) for four purposes, so that composing does not
    meet the same date and wording every time (its caches would flatter it)."""

    paris = ZoneInfo("Europe/Paris")
    first = datetime.now(paris).replace(hour=23, minute=59, second=59, microsecond=0) + timedelta(days=7)
    dues = [(first + timedelta(days=day)).isoformat() for day in range(DUE_DAYS)]
    keys = set()
    owner = await create_pool(url, size=1, schema=SCHEMA.schema)
    try:
        async with owner.acquire() as connection, connection.transaction():
            for number, person in enumerate(persons):
                planned = PlannedDelivery(
                    delivery_id=uuid.uuid4(),
                    tenant_id=tenant,
                    trigger_event_id=str(uuid.uuid4()),
                    trigger_source="/refuge/bench",
                    channel=channel,
                    recipient_kind=RecipientKind.BENEFICIARY,
                    recipient_id=person,
                    template="beneficiary_reminder",
                    context={
                        "purpose": PURPOSES[number % len(PURPOSES)],
                        "due": dues[number % DUE_DAYS],
                        "timezone": "Europe/Paris",
                        "offset": "P7D",
                    },
                    case_id=uuid.uuid4(),
                    deadline_id=uuid.uuid4(),
                )
                assert await delivery_log.plan_delivery(connection, planned)
                keys.add(planned.idempotency_key)
            # Not due until every dispatcher of the phase is ready (``_send_all``).
            await connection.execute(
                "UPDATE deliveries SET next_attempt_at = now() + interval '1 day' "
                "WHERE idempotency_key = ANY($1::text[])",
                list(keys),
            )
    finally:
        await owner.close()
    return keys


@dataclass(frozen=True)
class _Wiring:
    """What a dispatcher needs, in this process or a replica's (picklable)."""

    url: str
    master: str
    smtp_port: int
    sink: str
    concurrency: int
    smtp_pool_size: int
    log_file: str


def _service_logging(path: str) -> None:
    """The service's logging (``service_main``: JSON, INFO), written to ``path``."""

    configure_logging("notifications", "INFO")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=open(path, "a")))  # noqa: SIM115


def _dispatcher(wiring: _Wiring, pool: asyncpg.Pool) -> Dispatcher:
    """A dispatcher wired as the service wires it (bootstrap), to the bench's sinks."""

    settings = NotificationsSettings(database_url=wiring.url, REFUGE_MASTER_KEY=wiring.master)
    wrapper = MasterKeyWrapper(wiring.master)
    channels = BeneficiaryChannels(
        sms=SmsRouting(
            OrganisationSecrets(wrapper),
            public_url="http://127.0.0.1",
            default_webhook_url=f"{wiring.sink}/sms",
        ),
        unsubscribe=UnsubscribeTokens(os.urandom(32)),
    )
    email = SmtpSender(
        host="127.0.0.1",
        port=wiring.smtp_port,
        sender=settings.smtp_from,
        timeout=settings.smtp_timeout_seconds,
        pool_size=wiring.smtp_pool_size,
    )
    return Dispatcher(
        lambda: pool,
        Keyring(wrapper),
        email,
        max_attempts=settings.notifications_max_attempts,
        lease_seconds=settings.notifications_send_lease_seconds,
        beneficiaries=channels,
        concurrency=wiring.concurrency,
    )


async def _service_pool(url: str, master: str) -> asyncpg.Pool:
    settings = NotificationsSettings(database_url=url, REFUGE_MASTER_KEY=master)
    return await create_pool(
        app_dsn(url, SCHEMA, None),
        size=settings.database_pool_size,
        schema=SCHEMA.schema,
        across_tenants=True,
    )


def _replica(wiring: _Wiring, ready: Any) -> None:
    """One more dispatcher process, as a second replica of the service runs one."""

    _service_logging(wiring.log_file)

    async def dispatch() -> None:
        pool = await _service_pool(wiring.url, wiring.master)
        ready.set()
        await _dispatcher(wiring, pool).run()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(dispatch())


async def _settled(pool: asyncpg.Pool, keys: set[str]) -> collections.Counter[str]:
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM deliveries WHERE idempotency_key = ANY($1::text[]) "
        "AND status IN ('sent', 'failed', 'unknown', 'suppressed') GROUP BY status",
        list(keys),
    )
    return collections.Counter({row["status"]: row["n"] for row in rows})


async def _send_all(
    wiring: _Wiring, pool: asyncpg.Pool, keys: set[str], replicas: int
) -> tuple[float, float, collections.Counter[str], dict[int, float]]:
    """Start ``replicas`` dispatchers (the first in this process, the others each in its
    own), then make the planned rows of ``keys`` due at once, and time until every one is
    settled; (seconds, CPU seconds of the dispatchers, rows by status, CPU of the database
    backends then). This process's CPU counts in full (its polling of the log is small)."""

    spawn = multiprocessing.get_context("spawn")
    others = []
    for _ in range(replicas - 1):
        ready = spawn.Event()
        process = spawn.Process(target=_replica, args=(wiring, ready), daemon=True)
        process.start()
        others.append((process, ready))
    task = asyncio.create_task(_dispatcher(wiring, pool).run())
    try:
        for _, ready in others:
            assert await asyncio.to_thread(ready.wait, 60), "a dispatcher process did not start"
        await asyncio.sleep(0.5)  # each has looked once and now waits for a wake-up
        before = [process_cpu_seconds(process.pid) for process, _ in others]
        started, cpu = time.perf_counter(), time.process_time()
        await pool.execute(
            "UPDATE deliveries SET next_attempt_at = now() WHERE idempotency_key = ANY($1::text[])",
            list(keys),
        )
        await pool.execute(f"NOTIFY {SCHEMA.schema}_deliveries")
        while True:
            # Whether any row is open, not how many: a count would read the whole backlog
            # 50 times a second, and its CPU would be taken for the dispatcher's.
            any_open = await pool.fetchval(
                "SELECT EXISTS (SELECT FROM deliveries WHERE status IN ('pending', 'claimed', 'sending'))"
            )
            statuses = collections.Counter() if any_open else await _settled(pool, keys)
            if sum(statuses.values()) >= len(keys):
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                cpu += sum(process_cpu_seconds(p.pid) - b for (p, _), b in zip(others, before, strict=True))
                return seconds, cpu, statuses, await database_backends_cpu(pool)
            if task.done():
                task.result()
                raise RuntimeError("the dispatcher stopped")
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for process, _ in others:  # idle by now: every row is settled
            process.terminate()
            process.join(10)


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


async def _main(count: int, log_file: str) -> list[Row]:
    _service_logging(log_file)
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
        tenant = uuid.uuid4()
        persons = await _seed(url, Keyring(MasterKeyWrapper(master)), tenant, count, sink)
        pool = await _service_pool(url, master)
        try:
            concurrency, smtp_pool = settings.notifications_dispatch_concurrency, settings.smtp_pool_size
            wiring = _Wiring(url, master, smtp_port, sink, concurrency, smtp_pool, log_file)
            wider = dataclasses.replace(wiring, smtp_pool_size=concurrency)
            sms, email = NotificationChannel.SMS, NotificationChannel.EMAIL
            # (channel, label, wiring, dispatcher processes, messages per person); the service's
            # defaults first. The backlog: what is due at once when quiet hours end.
            phases = [
                (sms, f"{concurrency} in flight", wiring, 1, 1),
                (email, f"{smtp_pool} SMTP connections", wiring, 1, 1),
                (email, f"{concurrency} SMTP connections", wider, 1, 1),
                (sms, "2 dispatcher processes", wiring, 2, 1),
                (email, f"2 dispatcher processes, {concurrency} SMTP connections each", wider, 2, 1),
                (sms, f"a backlog of {BACKLOG_ROUNDS * count:,} due at once", wiring, 1, BACKLOG_ROUNDS),
            ]
            all_keys: dict[str, set[str]] = {"sms": set(), "email": set()}
            for channel, label, wired, replicas, rounds in phases:
                keys = set()
                for _ in range(rounds):
                    keys |= await _plan(url, tenant, persons, channel)
                all_keys[channel.value] |= keys
                sink_cpu, database_cpu = process_cpu_seconds(sinks.pid), await database_backends_cpu(pool)
                seconds, cpu, statuses, database_after = await _send_all(wired, pool, keys, replicas)
                sink_cpu = process_cpu_seconds(sinks.pid) - sink_cpu
                database_seconds = backends_cpu_since(database_cpu, database_after)
                assert statuses == {"sent": len(keys)}, f"{channel.value}: {dict(statuses)}"
                print(f"   {channel.value:>5} {label}: {len(keys)} in {seconds:.2f}s", flush=True)
                rows.append(
                    Row(
                        NAME,
                        f"{channel.value} sent, {label}",
                        rate(len(keys), seconds),
                        "msg/s",
                        f"n={len(keys)}; CPU per message: dispatcher {1000 * cpu / len(keys):.2f} ms, "
                        f"sink {1000 * sink_cpu / len(keys):.2f} ms, "
                        f"PostgreSQL backends {1000 * database_seconds / len(keys):.2f} ms",
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
    # On uvloop, as the service runs (uvicorn takes it when it is installed).
    with (
        tempfile.TemporaryDirectory() as logs,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return runner.run(_main(max(200, int(2_000 * scale)), os.path.join(logs, "dispatchers.log")))
