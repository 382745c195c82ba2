"""The dispatcher: sends planned deliveries, at most once each (DESIGN.md).

pending -> claimed -> sending -> sent | failed | unknown (| suppressed), each step committed:

- *claimed* (under a lease) while the message is composed. A dispatcher that dies
  here never called the provider: the lease lapses and the delivery is claimed again.
- *sending* is committed at the last instant before anything can be delivered: for
  SMTP once the server has accepted sender and recipient, just before DATA; for an SMS
  provider just before the HTTP request. A dispatcher that dies after it leaves a row
  nobody can settle for sure: the provider may have taken the message. When its lease
  lapses it is settled as *unknown* and reported as ``notification.failed``
  (``outcome_unknown``), never sent again: a second copy of a message to a person at risk
  is a harm too. The same holds when the connection breaks after the message went out
  (SMTP during DATA; HTTP after the connection was made: timeout, disconnect).
- A claim token fences a dispatcher whose lease lapsed: its late writes change nothing.
  A consent withdrawal or an erasure settles pending and claimed rows as *suppressed*;
  a dispatcher that had claimed one then finds its ``begin_sending`` refused and sends
  nothing.

Beneficiary messages are checked again when composed (erased, consent, contact), SMS are
held back in quiet hours (``domain.quiet_hours``: back to *pending* until the morning,
reported as ``notification.suppressed`` ``quiet_hours_deferred``), and a reminder whose
deadline has passed is not sent (``failed``, reason ``other``, "expired").
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import httpx

from refuge_common.contract.envelope import new_event
from refuge_common.contract.notifications import NotificationFailed, NotificationSent
from refuge_common.contract.vocabulary import FailureReason, SuppressionReason
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import tenant_transaction
from refuge_common.db.wakeup import Wakeup
from refuge_common.messaging.consumer import describe_failure
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_common.presentation import case_reference
from refuge_notifications.adapters import store
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.outcomes import (
    BeforeSend,
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)
from refuge_notifications.adapters.sms_providers import SmsMessage
from refuge_notifications.domain.deliveries import backoff_seconds
from refuge_notifications.domain.phones import to_e164
from refuge_notifications.domain.quiet_hours import QuietHours, UrgentOverride, is_urgent, sms_send_time
from refuge_notifications.domain.rendering import (
    FALLBACK_LANGUAGE,
    SmsTooLong,
    beneficiary_language,
    format_instant,
    language_for,
    render_email,
    render_sms,
)
from refuge_notifications.domain.signatures import UnsubscribeTokens
from refuge_notifications.schema import SCHEMA, SOURCE
from refuge_notifications.service_layer import events
from refuge_notifications.service_layer.sms_routing import SmsRouting

log = get_logger(__name__)
STAFF_LANGUAGES = ("fr", "en")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Undeliverable(Exception):
    def __init__(self, reason: FailureReason, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail or reason.value


class Suppressed(Exception):
    def __init__(self, reason: SuppressionReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Deferred(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class NotYet(Exception):
    """What the message needs has not arrived yet (the person's contact details): try later."""


@dataclass(frozen=True)
class Outgoing:
    """A composed message and how to hand it over; ``send`` returns the provider's id."""

    send: Callable[[BeforeSend], Awaitable[str | None]]
    timeout: float  # longest the provider exchange may take: the send's lease outlives it
    provider: str
    language: str | None


@dataclass(frozen=True)
class BeneficiaryChannels:
    """What beneficiary messages need beyond the caseworker e-mail."""

    sms: SmsRouting
    unsubscribe: UnsubscribeTokens
    sms_timeout: float = 15.0
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    urgent_override: UrgentOverride = UrgentOverride.BEFORE_DUE


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
        beneficiaries: BeneficiaryChannels | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._pool_provider = pool_provider
        self._keyring = keyring
        self._email = email
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._beneficiaries = beneficiaries
        self._clock = clock
        self._http: httpx.AsyncClient | None = None

    async def run(self) -> None:
        pool = self._pool_provider()
        timeout = self._beneficiaries.sms_timeout if self._beneficiaries else 15.0
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout))) as http,
            Wakeup(pool, f"{SCHEMA.schema}_deliveries") as wakeup,
        ):
            self._http = http
            while True:
                for row in await store.abandoned_sends(pool, self._batch_size):
                    await self._finish_unsettled(pool, row, "dispatcher stopped during the provider call")
                claimed = await store.claim_deliveries(
                    pool, self._batch_size, self._lease_seconds, self._clock()
                )
                # Sequential on purpose for now: one provider conversation at a time.
                for row in claimed:
                    try:
                        await self._deliver(pool, row)
                    except Exception as error:  # one delivery must not stop the others
                        # Its claim lapses and it is tried again (or, if it was sending, settled
                        # unknown); the rest of the batch and every other tenant go on.
                        log.error(
                            "delivery_crashed",
                            delivery_id=str(row["delivery_id"]),
                            error=describe_failure(error),
                        )
                if len(claimed) >= self._batch_size:
                    continue
                await wakeup.wait(await self._until_next(pool))

    async def _until_next(self, pool: asyncpg.Pool) -> float:
        upcoming = await store.next_attempt_at(pool)
        if upcoming is None:
            return self._poll_interval
        return max(0.05, min(self._poll_interval, (upcoming - self._clock()).total_seconds()))

    async def _deliver(self, pool: asyncpg.Pool, row: asyncpg.Record) -> None:
        attempts = row["attempts"] + 1
        try:
            outgoing = await self._compose(pool, row)
        except Undeliverable as error:
            await self._finish_failed(pool, row, error.reason, error.detail)
            return
        except Suppressed as error:
            await self._finish_suppressed(pool, row, error.reason)
            return
        except Deferred as error:
            await self._defer(pool, row, error.until)
            return
        except NotYet as error:
            await self._retry_or_fail(pool, row, attempts, str(error), FailureReason.NO_CONTACT_DETAILS)
            return
        except Exception as error:  # nothing was sent: retrying is safe
            # A key that no longer unwraps, a row that no longer parses: retried with backoff,
            # then failed, instead of stopping the dispatcher for every tenant.
            detail = describe_failure(error)
            log.error("delivery_compose_failed", delivery_id=str(row["delivery_id"]), error=detail)
            await self._retry_or_fail(pool, row, attempts, detail, FailureReason.OTHER)
            return

        # The send's lease outlives the provider exchange, so that no other dispatcher
        # declares the send abandoned while this one still waits for the provider's reply.
        send_lease = self._lease_seconds + outgoing.timeout

        async def begin_sending() -> bool:
            async with pool.acquire() as connection:
                return await store.begin_sending(
                    connection, row["delivery_id"], row["claim_token"], int(send_lease) + 1
                )

        try:
            provider_id = await outgoing.send(begin_sending)
        except ClaimLost:
            log.warning("delivery_claim_lost", delivery_id=str(row["delivery_id"]))
        except PermanentFailure as error:
            await self._finish_failed(pool, row, error.reason, str(error), error.provider_code)
        except OutcomeUnknown as error:
            await self._finish_unsettled(pool, row, str(error))
        except TemporaryFailure as error:
            await self._retry_or_fail(
                pool, row, attempts, str(error), FailureReason.PROVIDER_UNAVAILABLE, error.retry_after
            )
        else:
            await self._finish_sent(pool, row, outgoing, provider_id)

    async def _retry_or_fail(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        attempts: int,
        error: str,
        reason: FailureReason,
        retry_after: float | None = None,
    ) -> None:
        if attempts >= self._max_attempts:
            await self._finish_failed(pool, row, reason, error)
            return
        delay = retry_after if retry_after is not None else backoff_seconds(attempts)
        log.warning("delivery_retrying", delivery_id=str(row["delivery_id"]), delay_s=delay, error=error)
        async with pool.acquire() as connection:
            await store.retry_later(connection, row["delivery_id"], row["claim_token"], delay, error)

    # --- composing ---------------------------------------------------------------------

    async def _compose(self, pool: asyncpg.Pool, row: asyncpg.Record) -> Outgoing:
        if row["recipient_kind"] == "beneficiary":
            return await self._compose_for_beneficiary(pool, row)
        return await self._compose_for_staff(pool, row)

    async def _compose_for_staff(self, pool: asyncpg.Pool, row: asyncpg.Record) -> Outgoing:
        if row["channel"] != "email":
            raise Undeliverable(FailureReason.OTHER, "staff are only written to by e-mail")
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
        if language not in STAFF_LANGUAGES:  # staff templates exist in French and English only
            language = FALLBACK_LANGUAGE
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
        message = self._email.build(address, rendered, row["idempotency_key"])
        return Outgoing(
            send=lambda before: self._send_email(message, before),
            timeout=self._email.timeout,
            provider="smtp",
            language=rendered.language,
        )

    async def _send_email(self, message: Any, before: BeforeSend) -> str | None:
        await self._email.send(message, before_data=before)
        return None

    async def _compose_for_beneficiary(self, pool: asyncpg.Pool, row: asyncpg.Record) -> Outgoing:
        channels = self._beneficiaries
        if channels is None:
            raise Undeliverable(FailureReason.OTHER, "beneficiary channels are not configured")
        tenant, person_id, channel = row["tenant_id"], row["recipient_id"], row["channel"]
        context = row["context"]
        now = self._clock()
        async with tenant_transaction(pool, tenant) as connection:
            key = await self._keyring.get(connection, person_id)
            if key is None:
                raise Suppressed(SuppressionReason.ERASED)
            consent = await store.get_consent(connection, person_id, channel)
            if consent is None:
                raise Suppressed(SuppressionReason.NO_CONSENT)
            if not consent.given:
                raise Suppressed(SuppressionReason.OPTED_OUT)
            contact = await store.get_person(connection, person_id)
            if contact is None:
                raise NotYet("the person's contact details have not arrived")
            if contact.personal_data is None:
                raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
            organisation = await store.get_organisation(connection, tenant)
            office_zone = None
            if context.get("office_id"):
                office_zone = await store.office_timezone(connection, context["office_id"])
            provider_config = await channels.sms.config(connection, tenant) if channel == "sms" else None

        due = datetime.fromisoformat(context["due"])
        if due <= now:
            raise Undeliverable(FailureReason.OTHER, "expired: the deadline passed before it could be sent")
        zone = _zone(contact.timezone, office_zone, context["timezone"])
        language = beneficiary_language(
            contact.preferred_language, organisation.default_language if organisation else None
        )
        try:
            personal = open_sealed(key, contact.personal_data)
        except UnreadableData as error:
            raise Suppressed(SuppressionReason.ERASED) from error
        organisation_name = organisation.name if organisation else "Refuge"
        values: dict[str, object] = {
            "organisation": organisation_name,
            "purpose": context["purpose"],
            "due_text": format_instant(
                due,
                zone.key,
                language.code,
                locale=language.locale,
                with_time=context["purpose"] != "renewal_window_opens",
            ),
            "lang": language.locale.replace("_", "-"),
        }

        if channel == "sms":
            phone = to_e164(personal.get("phone"))
            if phone is None:
                raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
            if provider_config is None:
                raise Undeliverable(FailureReason.OTHER, "the organisation has no SMS provider")
            urgent = is_urgent(context.get("offset"), due, now)
            later = sms_send_time(
                now, zone, channels.quiet_hours, due=due, urgent=urgent, override=channels.urgent_override
            )
            if later is not None:
                raise Deferred(later)
            values["organisation"] = provider_config.display_name or organisation_name
            try:
                body = render_sms(row["template"], language.code, values)
            except SmsTooLong as error:
                raise Undeliverable(FailureReason.OTHER, str(error)) from error
            assert self._http is not None, "dispatcher not running"
            provider = channels.sms.provider(self._http, provider_config, tenant)
            sms = SmsMessage(to=phone, body=body, idempotency_key=row["idempotency_key"])
            return Outgoing(
                send=lambda before: provider.send(sms, before),
                # connect + write + read, each bounded by the timeout
                timeout=3 * channels.sms_timeout,
                provider=provider.name,
                language=language.code,
            )

        address = personal.get("email")
        if not address:
            raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
        token = channels.unsubscribe.issue(tenant, person_id, language.code)
        unsubscribe_url = channels.sms.public_url(f"/unsubscribe/{token}")
        rendered = render_email(
            row["template"], language.code, {**values, "unsubscribe_url": unsubscribe_url}
        )
        message = self._email.build(
            address,
            rendered,
            row["idempotency_key"],
            sender_name=organisation_name,
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058
                "Auto-Submitted": "auto-generated",
            },
        )
        return Outgoing(
            send=lambda before: self._send_email(message, before),
            timeout=self._email.timeout,
            provider="smtp",
            language=language.code,
        )

    # --- settling ----------------------------------------------------------------------

    async def _finish_sent(
        self, pool: asyncpg.Pool, row: asyncpg.Record, outgoing: Outgoing, provider_id: str | None
    ) -> None:
        event = NotificationSent(provider=outgoing.provider, **events.common(row, outgoing.language))
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            settled = await store.settle(
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
            log.info("notification_sent", delivery_id=str(row["delivery_id"]), channel=row["channel"])
        else:  # another dispatcher settled it as unknown meanwhile: the provider did take it
            log.warning("notification_sent_after_settled", delivery_id=str(row["delivery_id"]))

    async def _finish_failed(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        reason: FailureReason,
        detail: str | None = None,
        provider_code: str | None = None,
    ) -> None:
        await self._settle_failed(pool, row, "failed", reason, detail or reason.value, provider_code)
        log.warning(
            "notification_failed", delivery_id=str(row["delivery_id"]), reason=reason.value, detail=detail
        )

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
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        status: str,
        reason: FailureReason,
        detail: str,
        provider_code: str | None = None,
    ) -> bool:
        event = NotificationFailed(reason=reason, provider_code=provider_code, **events.common(row))
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            settled = await store.settle(connection, row["delivery_id"], row["claim_token"], status, detail)
            if settled:
                await add_to_outbox(connection, [new_event(SOURCE, event, row["tenant_id"])])
        return settled

    async def _finish_suppressed(
        self, pool: asyncpg.Pool, row: asyncpg.Record, reason: SuppressionReason
    ) -> None:
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            settled = await store.settle(
                connection, row["delivery_id"], row["claim_token"], "suppressed", reason.value
            )
            if settled:
                await add_to_outbox(connection, events.suppressed([row], reason))
        log.info("notification_suppressed", delivery_id=str(row["delivery_id"]), reason=reason.value)

    async def _defer(self, pool: asyncpg.Pool, row: asyncpg.Record, until: datetime) -> None:
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            deferred = await store.defer(connection, row["delivery_id"], row["claim_token"], until)
            if deferred:
                await add_to_outbox(
                    connection,
                    events.suppressed([row], SuppressionReason.QUIET_HOURS_DEFERRED, deferred_until=until),
                )
        log.info("notification_deferred", delivery_id=str(row["delivery_id"]), until=until.isoformat())


def _zone(*candidates: str | None) -> ZoneInfo:
    """The first time zone of the candidates that this machine knows (the person's, the
    office's, the deadline's)."""

    for name in candidates:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")
