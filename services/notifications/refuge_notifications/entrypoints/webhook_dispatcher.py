"""The webhook delivery loop: claim due deliveries, POST them, settle each attempt.

At least once to the receiver, never twice at the same time: a delivery is claimed under
a lease that outlives the POST (``adapters.webhook_queue``), and settled only if the claim
still holds. A process that dies after the receiver answered but before the settlement
committed leaves the claim to lapse, and the delivery is posted again with the same
``webhook-id``: receivers deduplicate on it (docs/webhooks.md). Attempts of one batch run
concurrently, so one slow receiver delays the others by at most one timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx

from refuge_common.db.pool import Connection, tenant_transaction
from refuge_common.db.wakeup import Wakeup
from refuge_common.messaging.consumer import describe_failure
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters import webhook_queue, webhook_store
from refuge_notifications.adapters.webhook_egress import Resolver, WebhookTransport, system_resolver
from refuge_notifications.adapters.webhook_metrics import (
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS_DISABLED,
    WEBHOOK_PENDING,
)
from refuge_notifications.adapters.webhook_queue import Attempt, Claim
from refuge_notifications.adapters.webhook_sender import PostResult, post
from refuge_notifications.domain.webhook_attempts import (
    AttemptPolicy,
    DisableReason,
    Verdict,
    judge,
    retry_after_seconds,
)
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer.webhook_endpoints import WebhookEndpoints, signing_secrets

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookDispatcher:
    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        endpoints: WebhookEndpoints,
        policy: AttemptPolicy,
        *,
        timeout: float,
        lease_margin: float,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._pool_provider = pool_provider
        self._endpoints = endpoints
        self._policy = policy
        self._timeout = timeout
        self._lease = timeout + lease_margin
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._clock = clock
        self._allow_loopback = allow_loopback  # the setting that lets http:// loopback URLs in
        self._resolver = resolver

    async def run(self) -> None:
        pool = self._pool_provider()
        transport = WebhookTransport(allow_loopback=self._allow_loopback, resolver=self._resolver)
        if transport.proxied:
            log.info("webhook_egress_through_proxy", checked="only what NO_PROXY exempts")
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(self._timeout), transport=transport) as http,
            Wakeup(pool, f"{SCHEMA.schema}_webhook_queue") as wakeup,
        ):
            while True:
                WEBHOOK_PENDING.set(await webhook_queue.pending(pool))
                claims = await webhook_queue.claim(pool, self._batch_size, self._lease)
                await asyncio.gather(*(self._attempt_safely(pool, http, item) for item in claims))
                if len(claims) >= self._batch_size:
                    continue
                upcoming = await webhook_queue.seconds_until_next(pool)
                wait = self._poll_interval if upcoming is None else min(self._poll_interval, upcoming)
                await wakeup.wait(max(0.05, wait))

    async def _attempt_safely(self, pool: asyncpg.Pool, http: httpx.AsyncClient, item: Claim) -> None:
        try:
            await self._attempt(pool, http, item)
        except Exception as error:  # one delivery must not stop the others
            # Its lease lapses and it is tried again; every other delivery goes on.
            log.error(
                "webhook_attempt_crashed", delivery_id=str(item.delivery_id), error=describe_failure(error)
            )

    async def _attempt(self, pool: asyncpg.Pool, http: httpx.AsyncClient, item: Claim) -> None:
        endpoints = self._endpoints
        async with tenant_transaction(pool, item.tenant_id) as connection:
            attempt = await webhook_queue.attempt(connection, item)
            if attempt is None:
                await webhook_queue.drop_stale(connection, item)
                return
            opened = await endpoints.secrets_of(connection, item.tenant_id, attempt.secret)
        now = self._clock()
        result = await post(
            http,
            attempt.url,
            attempt.event,
            webhook_id=str(attempt.delivery_id),
            secrets=signing_secrets(opened, attempt.previous_valid_until, now),
            at=now,
            within=self._timeout,
        )
        async with tenant_transaction(pool, item.tenant_id) as connection:
            if not await webhook_queue.still_ours(connection, item):
                log.warning("webhook_claim_lost", delivery_id=str(item.delivery_id))
                return
            await self._settle(connection, attempt, result)

    async def _settle(self, connection: Connection, attempt: Attempt, result: PostResult) -> None:
        verdict = judge(result.status_code, refused=result.refused)
        attempts = attempt.attempts + 1
        delivery_id = attempt.delivery_id
        if verdict is Verdict.DELIVERED:
            await webhook_queue.record_attempt(
                connection, delivery_id, status="succeeded", status_code=result.status_code, error=None
            )
            await webhook_queue.dequeue(connection, delivery_id)
            await webhook_queue.endpoint_succeeded(connection, attempt.endpoint_id)
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            log.info("webhook_delivered", delivery_id=str(delivery_id), attempts=attempts)
            return
        delay = None
        if verdict is Verdict.RETRY:
            delay = self._policy.next_delay(attempts, retry_after_seconds(result.retry_after))
        status = "pending" if delay is not None else "failed"
        await webhook_queue.record_attempt(
            connection, delivery_id, status=status, status_code=result.status_code, error=result.error
        )
        if delay is not None:
            await webhook_queue.reschedule(connection, delivery_id, delay)
            WEBHOOK_DELIVERIES.labels("retrying").inc()
            log.warning(
                "webhook_retrying",
                delivery_id=str(delivery_id),
                attempts=attempts,
                delay_s=round(delay, 3),
                error=result.error,
            )
        else:
            await webhook_queue.dequeue(connection, delivery_id)
            WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning("webhook_failed", delivery_id=str(delivery_id), attempts=attempts, error=result.error)
        counters = await webhook_queue.endpoint_failing(
            connection, attempt.endpoint_id, delivery_failed=delay is None
        )
        reason = (
            DisableReason.GONE
            if verdict is Verdict.GONE
            else self._policy.should_disable(
                counters["consecutive_failures"], counters["failing_since"], self._clock()
            )
        )
        if reason is not None:
            await webhook_store.disable_endpoint(connection, attempt.endpoint_id, _describe(reason, counters))
            WEBHOOK_ENDPOINTS_DISABLED.labels(reason.value).inc()
            log.warning(
                "webhook_endpoint_disabled", endpoint_id=str(attempt.endpoint_id), reason=reason.value
            )


def _describe(reason: DisableReason, counters: asyncpg.Record) -> str:
    if reason is DisableReason.GONE:
        return "the endpoint answered 410 Gone"
    if reason is DisableReason.CONSECUTIVE_FAILURES:
        return f"{counters['consecutive_failures']} deliveries failed in a row"
    return f"failing without a success since {counters['failing_since'].isoformat()}"
