"""What every service process runs: a pool, a producer, a broker, an outbox relay.

A service's composition root builds one ``ServiceRuntime``, registers its
consumers and background tasks, and gets an HTTP app whose lifespan starts and
stops all of it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from refuge_common.contract.base import EventData
from refuge_common.db.migrations import SchemaSpec
from refuge_common.messaging.consumer import EventConsumer
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.relay import OutboxRelay
from refuge_common.messaging.retry import RetryPolicy
from refuge_common.observability.http import instrument
from refuge_common.observability.logging import get_logger
from refuge_common.service_main import open_service_pool
from refuge_common.settings import PlatformSettings
from refuge_common.specification.asyncapi import ServiceInfo
from refuge_common.specification.declarations import Channel, consumption, publication
from refuge_common.specification.http import asyncapi_router
from refuge_common.specification.rendering import AsyncAPIDocument
from refuge_common.specification.service import service_document

log = get_logger(__name__)
BackgroundTask = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    name: str
    settings: PlatformSettings
    schema: SchemaSpec
    broker: KafkaBroker = field(init=False)
    producer: EventProducer = field(init=False)
    pool: asyncpg.Pool = field(init=False)
    relay: OutboxRelay = field(init=False)
    _consumers: list[EventConsumer] = field(default_factory=list)
    _background: list[BackgroundTask] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _subscriptions: list[tuple[EventConsumer, str]] = field(default_factory=list)
    _declared: list[Channel] = field(default_factory=list)
    _info: ServiceInfo | None = None
    _across_tenants_pool: asyncpg.Pool | None = None
    _wants_across_tenants: bool = False

    def __post_init__(self) -> None:
        self.broker = KafkaBroker(
            self.settings.kafka_bootstrap_servers, client_id=f"refuge-{self.name}", logger=None
        )
        self.producer = EventProducer(self.settings.kafka_bootstrap_servers, f"refuge-{self.name}")

    @property
    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(
            max_attempts=s.consumer_max_attempts,
            initial_delay=s.consumer_backoff_initial_ms / 1000,
            max_delay=s.consumer_backoff_max_ms / 1000,
        )

    def consumer(self, group: str) -> EventConsumer:
        """A consumer group named ``refuge.<service>.<group>``, subscribed on start."""

        consumer = EventConsumer(f"refuge.{self.name}.{group}", retry=self.retry_policy)
        self._consumers.append(consumer)
        return consumer

    def subscribe(self, consumer: EventConsumer, topic: str, *, max_workers: int = 1) -> None:
        consumer.subscribe(
            self.broker,
            topic,
            max_workers=max_workers,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
        )
        self._subscriptions.append((consumer, topic))

    def publishes(self, topic: str, *events: type[EventData], description: str | None = None) -> None:
        """Declare the events this service publishes on ``topic`` (all of the contract's
        types on it if none is named), for its AsyncAPI document: they leave through the
        outbox relay, which FastStream does not see."""

        self._declared.append(publication(topic, events, description))

    def consumes(
        self, topic: str, *events: type[EventData], reader: str, description: str | None = None
    ) -> None:
        """Declare events a reader other than ``subscribe``'s takes from ``topic`` (without a
        consumer group, e.g. a batch projector keeping its offsets in its database), for the
        AsyncAPI document; ``subscribe`` documents its consumers by itself."""

        name = f"refuge.{self.name}.{reader}"
        self._declared.append(consumption(topic, events, reader=name, description=description))

    def asyncapi(self) -> AsyncAPIDocument:
        """The AsyncAPI 3.0 document of what this service consumes and publishes."""

        info = self._info or ServiceInfo(self.name, f"Refuge {self.name}", "0.1.0")
        servers = self.settings.kafka_bootstrap_servers
        return service_document(info, servers, self._subscriptions, self._declared)

    def background(self, task: BackgroundTask) -> None:
        self._background.append(task)

    def across_tenants_pool(self) -> Callable[[], asyncpg.Pool]:
        """The pool, opened on start, of the loops that read a table's rows of every tenant
        (where its row-level security admits them: ``refuge_common.db.pool.ACROSS_TENANTS_SETTING``);
        everything else keeps ``pool``, whose connections see one tenant's rows."""

        self._wants_across_tenants = True

        def pool() -> asyncpg.Pool:
            if self._across_tenants_pool is None:
                raise RuntimeError("the service has not started")
            return self._across_tenants_pool

        return pool

    async def start(self) -> None:
        size = self.settings.database_pool_size
        self.pool = await open_service_pool(self.settings, self.schema, size=size)
        if self._wants_across_tenants:
            self._across_tenants_pool = await open_service_pool(
                self.settings, self.schema, size=size, across_tenants=True
            )
        await self.producer.start()
        self.relay = OutboxRelay(
            self.pool,
            self.producer,
            schema=self.schema.schema,
            batch_size=self.settings.outbox_batch_size,
            poll_interval=self.settings.outbox_poll_interval_ms / 1000,
            linger=self.settings.outbox_linger_ms / 1000,
        )
        for consumer in self._consumers:
            consumer.attach(self.pool, self.producer)
        try:
            self.relay.start()
            await start_broker(self.broker)
            for task in self._background:
                self._tasks.append(asyncio.create_task(_supervised(task), name=task.__qualname__))
        except BaseException:
            await self.stop()  # a half-started service must not leak its pool and tasks
            raise
        log.info("service_started", schema=self.schema.schema)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.broker.stop()
        await self.relay.stop()
        await self.producer.stop()
        for pool in (self.pool, self._across_tenants_pool):
            if pool is None:
                continue
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                log.warning("pool_close_timed_out")
                pool.terminate()
        self._across_tenants_pool = None
        log.info("service_stopped")

    async def workers_alive(self) -> bool:
        """The relay and every background loop are still running (none died for good)."""

        return self.relay.running and all(not task.done() for task in self._tasks)

    async def database_ready(self) -> bool:
        return bool(await self.pool.fetchval("SELECT true"))

    async def broker_ready(self) -> bool:
        return await self.producer.ping()

    def http_app(self, **fastapi_options: object) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(lifespan=lifespan, **fastapi_options)  # type: ignore[arg-type]
        instrument(
            app, {"database": self.database_ready, "broker": self.broker_ready, "workers": self.workers_alive}
        )
        self._info = ServiceInfo(self.name, app.title, app.version, app.description)
        app.include_router(asyncapi_router(self.asyncapi))
        return app


async def start_broker(broker: KafkaBroker) -> None:
    """``broker.start()``, with its subscribers' consumer groups joined at the same time.

    FastStream starts the subscribers one after another, and an aiokafka consumer's start
    waits for its group's first assignment: about 5 s per group on Tansu (Apache Kafka
    holds a new group's first join for ``group.initial.rebalance.delay.ms``, 3 s by
    default). With nine groups notifications took 45 s to start, deadlines 15 s; during a
    restart nothing of theirs runs. The joins overlap here. The same is reported of
    FastStream's start in calfkit-sdk#361. A subscriber that fails to start cancels the
    others' starts (the task group), and the caller stops the broker as on any failure.
    """

    await broker.connect()
    async with asyncio.TaskGroup() as starting:
        for subscriber in broker.subscribers:
            starting.create_task(subscriber.start())
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


async def _supervised(task: BackgroundTask) -> None:
    """Run a background loop; log and restart it if it crashes."""

    while True:
        try:
            await task()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error(
                "background_task_crashed",
                task=task.__qualname__,
                error=str(error),
                error_type=type(error).__name__,
            )
            await asyncio.sleep(1.0)
