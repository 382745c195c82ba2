"""Reporting: rebuild rate from a topic of 1,000,000 events, beside raw aiokafka, and query latency.

A fresh Tansu broker is filled with 1,000,000 contract events (a realistic mix over every
topic: per case, its opening, the person and their update, contacts, an interview or a
detention placement, a deadline and its outcome, a notification and its delivery, the
closing) for 20 organisations. Then, in the same run:

- raw: a plain aiokafka consumer (the fetch sizes reporting uses) reads every record, no decoding;
- live catch-up: the reporting service starts (its real composition root, uvicorn on a port)
  and its live projector folds the whole history into the current generation;
- rebuild: ``POST /operator/rebuild`` builds a new generation from offset 0 and swaps it in;
  the rate is the events applied over the time from the start to the swap. Beside it, the
  CPU it took per event in this process (the service runs in it) and in the PostgreSQL
  backends of the bench database, the machine's busy share, and where the projector loop's
  time went (reading from the broker, decoding, waiting for the previous transaction);
- queries: ``GET /figures/...`` for one organisation (about 50,000 of its events), right
  after the swap, while the retired generation is being dropped: p50 / p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import (
    Row,
    backends_cpu_since,
    cpu_busy_percent,
    cpu_jiffies,
    create_database,
    database_backends_cpu,
    drop_database,
    latency_rows,
    rate,
    tansu_broker,
)
from refuge_common.auth.principal import Principal, Role
from refuge_common.contract import cases, deadlines, notifications, persons, topics
from refuge_common.contract.base import EventData
from refuge_common.contract.envelope import Envelope, KafkaRecord, to_record
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.bootstrap import build_app
from refuge_reporting.schema import SCHEMA
from refuge_reporting.settings import ReportingSettings

NAME = "reporting_rebuild"
TENANTS = 20
CHUNK = 20_000
QUERY_SAMPLES = 40
PROJECTED = [t for t in topics.ALL if t != topics.DEADLETTER]


def _case_events(rng: random.Random, tenant: uuid.UUID, offices: list[uuid.UUID]) -> Iterator[Envelope]:
    """About ten events of one case, over every topic."""

    def event(data: EventData, at: datetime) -> Envelope:
        return Envelope("/refuge/bench", data, tenant, time=at)

    opened = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(2 * 525_600))
    case, person, deadline, notification = (uuid.uuid4() for _ in range(4))
    yield event(persons.PersonRegistered(person_id=person), opened)
    gender = rng.choice(["female", "male", "not_stated"])
    yield event(persons.PersonUpdated(person_id=person, gender=gender, nationalities=["AF"]), opened)
    yield event(
        cases.CaseOpened(
            case_id=case,
            organisation_id=tenant,
            office_id=rng.choice(offices),
            case_type=rng.choice(["asylum", "removal_appeal"]),
            jurisdiction="FR",
            channel=rng.choice(["phone", "in_person"]),
            opened_at=opened,
            person_id=person,
        ),
        opened,
    )
    for outcome in ("resolved_remotely", rng.choice(["appointment_given", "referred"])):
        yield event(
            cases.CaseContactLogged(case_id=case, channel="phone", outcome=outcome, contacted_at=opened),
            opened,
        )
    if rng.random() < 0.5:
        yield event(cases.CaseInterviewHeld(case_id=case, held_at=opened, authority="ofpra"), opened)
    else:
        yield event(
            cases.CaseDetentionStarted(case_id=case, started_at=opened, kind="administrative"), opened
        )
    due = opened + timedelta(days=30)
    yield event(
        deadlines.DeadlineComputed(
            deadline_id=deadline,
            case_id=case,
            purpose="appeal",
            rule="fr.oqtf",
            legal_basis="L.911-1",
            due=due,
            timezone="Europe/Paris",
        ),
        opened,
    )
    yield event(deadlines.DeadlineMet(deadline_id=deadline, case_id=case, met_at=opened), due)
    note = dict(
        notification_id=notification,
        channel="email",
        recipient_kind="caseworker",
        trigger_event_id=str(deadline),
        trigger_source="/refuge/deadlines",
        case_id=case,
    )
    yield event(notifications.NotificationSent(**note), opened)
    yield event(cases.CaseClosed(case_id=case, outcome="favourable", closed_at=due), due)


async def _fill(bootstrap: str, count: int) -> tuple[int, float, uuid.UUID]:
    rng = random.Random(6)
    tenants = [uuid.uuid4() for _ in range(TENANTS)]
    offices = {t: [uuid.uuid4() for _ in range(4)] for t in tenants}
    producer = EventProducer(bootstrap, "bench-fill")
    await producer.start()
    sent = 0
    started = time.perf_counter()
    try:
        while sent < count:
            chunk: list[KafkaRecord] = []
            while len(chunk) < CHUNK and sent + len(chunk) < count:
                tenant = rng.choice(tenants)
                chunk.extend(to_record(e) for e in _case_events(rng, tenant, offices[tenant]))
            await producer.send_in_order(chunk)
            sent += len(chunk)
    finally:
        await producer.stop()
    return sent, time.perf_counter() - started, tenants[0]


async def _raw_consume(bootstrap: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.topics()
        consumer.assign(
            [TopicPartition(t, p) for t in PROJECTED for p in consumer.partitions_for_topic(t) or ()]
        )
        count, started = 0, time.perf_counter()
        while count < expected:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).values():
                count += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def _service(bootstrap: str, database: str, issuer: LocalIssuer) -> AsyncIterator[tuple[str, Any]]:
    settings = ReportingSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database,
        jwks_url=issuer.jwks_url,
        log_level="WARNING",
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await _until(started, "server start", within=60)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await serving


def _own_and_reaped_cpu() -> float:
    """This process's CPU and that of its children reaped so far: a rebuild's worker
    processes are reaped before the swap (the broker, still running, is not counted)."""

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class _CpuSplit:
    """CPU spent during a phase by this process (the reporting service runs in it) with its
    rebuild workers, and by the PostgreSQL backends serving the bench database, beside the
    whole machine's. Backends are sampled every 0.1 s: a rebuild worker's backends exit with
    it, before the phase ends (at most their last 0.1 s is missed)."""

    def __init__(self, database: str) -> None:
        self._database = database

    async def _backends(self, connection: asyncpg.Connection) -> dict[int, float]:
        return await database_backends_cpu(connection, but_this_one=True)

    async def _sample(self, connection: asyncpg.Connection) -> None:
        # Stopped between queries, never cancelled within one (the connection is used after).
        while not self._stop.is_set():
            self._seen.update(await self._backends(connection))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    async def __aenter__(self) -> _CpuSplit:
        self._machine = cpu_jiffies()
        self._self = _own_and_reaped_cpu()
        self._connection = await asyncpg.connect(self._database)
        self._postgres = await self._backends(self._connection)
        self._seen = dict(self._postgres)
        self._stop = asyncio.Event()
        self._sampling = asyncio.create_task(self._sample(self._connection))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.process = _own_and_reaped_cpu() - self._self
        self._stop.set()
        await self._sampling
        self._seen.update(await self._backends(self._connection))
        await self._connection.close()
        self.postgres = backends_cpu_since(self._postgres, self._seen)
        self.machine_busy = cpu_busy_percent(self._machine, cpu_jiffies())

    def rows(self, label: str, events: int) -> list[Row]:
        return [
            Row(
                NAME,
                f"{label}: CPU of the reporting processes",
                1e6 * self.process / events,
                "µs/event",
                "the service and its rebuild workers",
            ),
            Row(NAME, f"{label}: CPU of PostgreSQL backends", 1e6 * self.postgres / events, "µs/event", ""),
            Row(NAME, f"{label}: machine busy", self.machine_busy, "%", "2 cores; broker and others too"),
        ]


async def _until(probe: Any, what: str, within: float = 1_800) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no {what} within {within:.0f} s")


async def _main(count: int) -> list[Row]:
    rows: list[Row] = []
    database = await create_database()
    try:
        with tansu_broker() as bootstrap, tempfile.TemporaryDirectory() as keys:
            issuer = LocalIssuer(Path(keys) / "key.pem")
            sent, fill_seconds, tenant = await _fill(bootstrap, count)
            rows.append(
                Row(
                    NAME,
                    "topic fill (EventProducer)",
                    rate(sent, fill_seconds),
                    "events/s",
                    f"{sent:,} events",
                )
            )
            raw = await _raw_consume(bootstrap, sent)
            rows.append(
                Row(NAME, "raw aiokafka consume", rate(sent, raw), "events/s", "no decoding, same run")
            )
            async with _service(bootstrap, database, issuer) as (url, app):
                started = time.perf_counter()

                async def caught_up() -> bool:
                    live = app.state.projections.live
                    return bool(live and live.progress.caught_up and live.progress.events_done >= sent)

                await _until(caught_up, "live catch-up")
                live_seconds = time.perf_counter() - started
                rows.append(
                    Row(NAME, "live projector catch-up", rate(sent, live_seconds), "events/s", "from start")
                )
                operator = _headers(issuer, Principal("bench", tenant, Role.OPERATOR))
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    async with _CpuSplit(database) as cpu:
                        status = await _rebuild(client, operator)
                    wall = datetime.fromisoformat(status["finished_at"]) - datetime.fromisoformat(
                        status["started_at"]
                    )
                    applied = int(status["events_applied"])
                    rows.append(
                        Row(
                            NAME,
                            "rebuild (POST /operator/rebuild to swap)",
                            rate(applied, wall.total_seconds()),
                            "events/s",
                            f"{applied:,} events, aim 50,000",
                        )
                    )
                    rows.append(
                        Row(
                            NAME,
                            "rebuild: rate from first to last batch",
                            float(status["events_per_second"] or "nan"),
                            "events/s",
                            "without starting the workers, ANALYZE and the swap",
                        )
                    )
                    rows += cpu.rows("rebuild", applied)
                    rows += [
                        Row(
                            NAME,
                            f"rebuild: time {name.replace('_', ' ')}",
                            seconds,
                            "s",
                            "of the projector loop",
                        )
                        for name, seconds in status.get("seconds", {}).items()
                    ]
                    coordinator = _headers(issuer, Principal("bench", tenant, Role.COORDINATOR))
                    rows += await _query_latency(client, coordinator, "just after the swap")
            issuer.close()
    finally:
        await drop_database(database)
    return rows


async def _rebuild(client: httpx.AsyncClient, operator: dict[str, str]) -> Any:
    """POST /operator/rebuild, then its status once swapped."""

    response = await client.post("/operator/rebuild", headers=operator)
    response.raise_for_status()

    async def swapped() -> Any:
        status = (await client.get("/operator/rebuild", headers=operator)).json()
        if status["state"] == "failed":
            raise RuntimeError(status["error"])
        return status if status["state"] == "swapped" else None

    return await _until(swapped, "rebuild")


def _headers(issuer: LocalIssuer, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(principal)}"}


async def _query_latency(client: httpx.AsyncClient, headers: dict[str, str], when: str) -> list[Row]:
    queries: list[tuple[str, str, dict[str, str | list[str]]]] = [
        (
            "persons by office, year",
            "/figures/persons",
            {"group_by": "office", "start": "2026-01-01T00:00:00Z"},
        ),
        (
            "cases by month, year over year",
            "/figures/cases_opened",
            {"group_by": "month", "compare": "true", "start": "2026-01-01T00:00:00Z"},
        ),
        (
            "contacts channel x outcome, published CSV",
            "/figures/contacts",
            {"group_by": ["channel", "outcome"], "publish": "true", "format": "csv"},
        ),
    ]
    rows = []
    for label, path, params in queries:
        samples = []
        for _ in range(QUERY_SAMPLES):
            started = time.perf_counter()
            response = await client.get(path, headers=headers, params=params)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
        rows += latency_rows(NAME, f"query: {label}", samples, f"one organisation of {TENANTS}, {when}")
    return rows


def run(scale: float = 1.0) -> list[Row]:
    return asyncio.run(_main(max(10_000, int(1_000_000 * scale))))
