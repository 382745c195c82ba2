"""Settling a claimed delivery: each outcome written under its claim, with its event.

Every write is fenced by the claim token (``delivery_log.settle``): a dispatcher whose lease
lapsed changes nothing, and an outcome is reported once, in the transaction that records it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from refuge_common.contract.envelope import new_event
from refuge_common.contract.notifications import NotificationFailed, NotificationSent
from refuge_common.contract.vocabulary import FailureReason, SuppressionReason
from refuge_common.db.pool import tenant_transaction
from refuge_common.messaging.consumer import describe_failure
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import delivery_log
from refuge_notifications.domain.deliveries import backoff_seconds
from refuge_notifications.schema import SOURCE
from refuge_notifications.service_layer import events
from refuge_notifications.service_layer.outgoing import (
    AwaitingConsent,
    Deferred,
    NotYet,
    Outgoing,
    Suppressed,
    Undeliverable,
)

log = get_logger(__name__)


async def finish_sent(
    pool: asyncpg.Pool, row: asyncpg.Record, outgoing: Outgoing, provider_id: str | None
) -> None:
    event = NotificationSent(provider=outgoing.provider, **events.common(row, outgoing.language))
    async with tenant_transaction(pool, row["tenant_id"]) as connection:
        settled = await delivery_log.settle(
            connection,
            row["delivery_id"],
            row["claim_token"],
            "sent",
            provider=outgoing.provider,
            provider_message_id=provider_id,
            language=outgoing.language,
        )
        if settled:
            await add_to_outbox(connection, [new_event(SOURCE, event, row["tenant_id"])])
    if settled:
        metrics.count_final(row["channel"], "sent")
        log.info("notification_sent", delivery_id=str(row["delivery_id"]), channel=row["channel"])
    else:  # another dispatcher settled it as unknown meanwhile: the provider did take it
        log.warning("notification_sent_after_settled", delivery_id=str(row["delivery_id"]))


async def finish_failed(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    reason: FailureReason,
    detail: str | None = None,
    provider_code: str | None = None,
) -> None:
    await settle_failed(pool, row, "failed", reason, detail or reason.value, provider_code)
    log.warning(
        "notification_failed", delivery_id=str(row["delivery_id"]), reason=reason.value, detail=detail
    )


async def finish_unsettled(pool: asyncpg.Pool, row: asyncpg.Record, detail: str) -> None:
    """The provider may or may not have the message: say so, and never send it again."""

    if await settle_failed(pool, row, "unknown", FailureReason.OUTCOME_UNKNOWN, detail):
        log.error(
            "notification_outcome_unknown",
            delivery_id=str(row["delivery_id"]),
            channel=row["channel"],
            detail=detail,
        )


async def settle_failed(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    status: str,
    reason: FailureReason,
    detail: str,
    provider_code: str | None = None,
) -> bool:
    event = NotificationFailed(reason=reason, provider_code=provider_code, **events.common(row))
    async with tenant_transaction(pool, row["tenant_id"]) as connection:
        settled = await delivery_log.settle(
            connection, row["delivery_id"], row["claim_token"], status, detail
        )
        if settled:
            await add_to_outbox(connection, [new_event(SOURCE, event, row["tenant_id"])])
    if settled:
        metrics.count_final(row["channel"], status)
    return settled


async def finish_suppressed(pool: asyncpg.Pool, row: asyncpg.Record, reason: SuppressionReason) -> None:
    async with tenant_transaction(pool, row["tenant_id"]) as connection:
        settled = await delivery_log.settle(
            connection, row["delivery_id"], row["claim_token"], "suppressed", reason.value
        )
        if settled:
            await add_to_outbox(connection, events.suppressed([row], reason))
    if settled:
        metrics.count_final(row["channel"], "suppressed")
    log.info("notification_suppressed", delivery_id=str(row["delivery_id"]), reason=reason.value)


async def defer(pool: asyncpg.Pool, row: asyncpg.Record, until: datetime) -> None:
    async with tenant_transaction(pool, row["tenant_id"]) as connection:
        deferred = await delivery_log.defer(connection, row["delivery_id"], row["claim_token"], until)
        if deferred:
            await add_to_outbox(
                connection,
                events.suppressed([row], SuppressionReason.QUIET_HOURS_DEFERRED, deferred_until=until),
            )
    log.info("notification_deferred", delivery_id=str(row["delivery_id"]), until=until.isoformat())


async def release(pool: asyncpg.Pool, row: asyncpg.Record, until: datetime) -> None:
    """Give a claimed delivery back, untried, to be claimed again at ``until`` (its provider's
    rate limit was reached): not an attempt, and nothing to report."""

    async with pool.acquire() as connection:
        await delivery_log.defer(connection, row["delivery_id"], row["claim_token"], until)


async def retry_or_fail(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    attempts: int,
    error: str,
    reason: FailureReason,
    retry_after: float | None = None,
    *,
    max_attempts: int,
) -> None:
    if attempts >= max_attempts:
        await finish_failed(pool, row, reason, error)
        return
    delay = retry_after if retry_after is not None else backoff_seconds(attempts)
    log.warning("delivery_retrying", delivery_id=str(row["delivery_id"]), delay_s=delay, error=error)
    async with pool.acquire() as connection:
        await delivery_log.retry_later(connection, row["delivery_id"], row["claim_token"], delay, error)


async def not_composed(
    pool: asyncpg.Pool, row: asyncpg.Record, attempts: int, error: Exception, *, max_attempts: int
) -> None:
    """Settle a claimed delivery that composing ended without a message (``error`` says why)."""

    if isinstance(error, Undeliverable):
        await finish_failed(pool, row, error.reason, error.detail)
    elif isinstance(error, Suppressed):
        await finish_suppressed(pool, row, error.reason)
    elif isinstance(error, Deferred):
        await defer(pool, row, error.until)
    elif isinstance(error, AwaitingConsent):
        log.info(
            "delivery_awaits_consent", delivery_id=str(row["delivery_id"]), until=error.until.isoformat()
        )
        await release(pool, row, error.until)
    elif isinstance(error, NotYet):
        reason = FailureReason.NO_CONTACT_DETAILS
        await retry_or_fail(pool, row, attempts, str(error), reason, max_attempts=max_attempts)
    else:  # nothing was sent: retrying is safe
        # A key that no longer unwraps, a row that no longer parses: retried with backoff,
        # then failed, instead of stopping the dispatcher for every tenant.
        detail = describe_failure(error)
        log.error("delivery_compose_failed", delivery_id=str(row["delivery_id"]), error=detail)
        await retry_or_fail(pool, row, attempts, detail, FailureReason.OTHER, max_attempts=max_attempts)
