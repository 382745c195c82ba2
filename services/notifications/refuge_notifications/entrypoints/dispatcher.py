"""The dispatcher: sends planned deliveries, at most once each (DESIGN.md).

pending -> claimed -> sending -> sent | failed | unknown, each step committed:

- *claimed* (under a lease) while the message is composed. A dispatcher that dies
  here never called the provider: the lease lapses and the delivery is claimed again.
- *sending* is committed at the last instant before anything can be delivered: for
  SMTP once the server has accepted sender and recipient, just before DATA. A
  dispatcher that dies after it leaves a row nobody can settle for sure: the server
  may have taken the message. When its lease lapses it is settled as *unknown* and
  reported as ``notification.failed`` (``outcome_unknown``), never sent again: a
  second copy of a message to a person at risk is a harm too, and the window is one
  DATA exchange. The same holds when the connection breaks after DATA began.
- A claim token fences a dispatcher whose lease lapsed: its late writes change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from refuge_common.contract.envelope import new_event
from refuge_common.contract.notifications import NotificationFailed, NotificationSent
from refuge_common.contract.vocabulary import FailureReason, NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import tenant_transaction
from refuge_common.db.wakeup import Wakeup
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_common.presentation import case_reference
from refuge_notifications.adapters import store
from refuge_notifications.adapters.email_sender import (
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
)
from refuge_notifications.domain.deliveries import backoff_seconds
from refuge_notifications.domain.rendering import format_instant, language_for, render_email
from refuge_notifications.schema import SCHEMA, SOURCE

log = get_logger(__name__)


class Undeliverable(Exception):
    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Dispatcher:
    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        keyring: Keyring,
        email: SmtpSender,
        *,
        max_attempts: int,
        lease_seconds: int,
        batch_size: int = 50,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool_provider = pool_provider
        self._keyring = keyring
        self._email = email
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._poll_interval = poll_interval

    async def run(self) -> None:
        pool = self._pool_provider()
        async with Wakeup(pool, f"{SCHEMA.schema}_deliveries") as wakeup:
            while True:
                for row in await store.abandoned_sends(pool, self._batch_size):
                    await self._finish_unsettled(pool, row, "dispatcher stopped during the provider call")
                claimed = await store.claim_deliveries(pool, self._batch_size, self._lease_seconds)
                # Sequential on purpose for now: one SMTP conversation at a time.
                for row in claimed:
                    await self._deliver(pool, row)
                if len(claimed) >= self._batch_size:
                    continue
                await wakeup.wait(await self._until_next(pool))

    async def _until_next(self, pool: asyncpg.Pool) -> float:
        upcoming = await store.next_attempt_at(pool)
        if upcoming is None:
            return self._poll_interval
        return max(0.05, min(self._poll_interval, (upcoming - datetime.now(UTC)).total_seconds()))

    async def _deliver(self, pool: asyncpg.Pool, row: asyncpg.Record) -> None:
        try:
            message = await self._compose(pool, row)
        except Undeliverable as error:
            await self._finish_failed(pool, row, error.reason)
            return

        # The send's lease outlives one SMTP step, so that no other dispatcher declares the
        # send abandoned while this one still waits for the server's reply.
        send_lease = self._lease_seconds + self._email.timeout

        async def begin_sending() -> bool:
            async with pool.acquire() as connection:
                return await store.begin_sending(
                    connection, row["delivery_id"], row["claim_token"], send_lease
                )

        attempts = row["attempts"] + 1
        try:
            await self._email.send(message, before_data=begin_sending)
        except ClaimLost:
            log.warning("delivery_claim_lost", delivery_id=str(row["delivery_id"]))
        except PermanentFailure:
            await self._finish_failed(pool, row, FailureReason.REJECTED_BY_PROVIDER)
        except OutcomeUnknown as error:
            await self._finish_unsettled(pool, row, str(error))
        except TemporaryFailure as error:
            if attempts >= self._max_attempts:
                await self._finish_failed(pool, row, FailureReason.PROVIDER_UNAVAILABLE)
                return
            delay = backoff_seconds(attempts)
            log.warning(
                "delivery_retrying", delivery_id=str(row["delivery_id"]), delay_s=delay, error=str(error)
            )
            async with pool.acquire() as connection:
                await store.retry_later(connection, row["delivery_id"], row["claim_token"], delay, str(error))
        else:
            await self._finish_sent(pool, row)

    async def _compose(self, pool: asyncpg.Pool, row: asyncpg.Record) -> Any:
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            staff = await store.get_staff(connection, row["recipient_id"])
            if staff is None or staff.contact is None:
                raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
            key = await self._keyring.get(connection, staff.staff_id)
        if key is None:
            raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
        try:
            address = open_sealed(key, staff.contact).get("email")
        except UnreadableData as error:
            raise Undeliverable(FailureReason.NO_CONTACT_DETAILS) from error
        if not address:
            raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
        context = row["context"]
        language = language_for(staff.preferred_language)
        timezone = staff.timezone or context["timezone"]
        rendered = render_email(
            row["template"],
            language,
            {
                "organisation": staff.organisation_name or "Refuge",
                "purpose": context["purpose"],
                "case_reference": case_reference(context["case_id"]),
                "due_text": format_instant(datetime.fromisoformat(context["due"]), timezone, language),
                "timezone": timezone,
            },
        )
        return self._email.build(address, rendered, row["idempotency_key"])

    async def _finish_sent(self, pool: asyncpg.Pool, row: asyncpg.Record) -> None:
        event = NotificationSent(provider="smtp", **self._common(row))
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            settled = await store.settle(connection, row["delivery_id"], row["claim_token"], "sent")
            if settled:
                await add_to_outbox(connection, [new_event(SOURCE, event, row["tenant_id"])])
        if settled:
            log.info("notification_sent", delivery_id=str(row["delivery_id"]), channel=row["channel"])
        else:  # another dispatcher settled it as unknown meanwhile: the provider did take it
            log.warning("notification_sent_after_settled", delivery_id=str(row["delivery_id"]))

    async def _finish_failed(self, pool: asyncpg.Pool, row: asyncpg.Record, reason: FailureReason) -> None:
        await self._settle_failed(pool, row, "failed", reason, reason.value)
        log.warning("notification_failed", delivery_id=str(row["delivery_id"]), reason=reason.value)

    async def _finish_unsettled(self, pool: asyncpg.Pool, row: asyncpg.Record, detail: str) -> None:
        """The provider may or may not have the message: say so, and never send it again."""

        if await self._settle_failed(pool, row, "unknown", FailureReason.OUTCOME_UNKNOWN, detail):
            log.error(
                "notification_outcome_unknown",
                delivery_id=str(row["delivery_id"]),
                channel=row["channel"],
                detail=detail,
            )

    async def _settle_failed(
        self, pool: asyncpg.Pool, row: asyncpg.Record, status: str, reason: FailureReason, detail: str
    ) -> bool:
        event = NotificationFailed(reason=reason, **self._common(row))
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            settled = await store.settle(connection, row["delivery_id"], row["claim_token"], status, detail)
            if settled:
                await add_to_outbox(connection, [new_event(SOURCE, event, row["tenant_id"])])
        return settled

    @staticmethod
    def _common(row: asyncpg.Record) -> dict[str, Any]:
        return {
            "notification_id": uuid.UUID(str(row["delivery_id"])),
            "channel": NotificationChannel(row["channel"]),
            "recipient_kind": RecipientKind(row["recipient_kind"]),
            "trigger_event_id": row["trigger_event_id"],
            "trigger_source": row["trigger_source"],
            "case_id": row["case_id"],
            "deadline_id": row["deadline_id"],
            "recipient_id": row["recipient_id"],
            "template": row["template"],
        }
