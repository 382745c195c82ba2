"""Composing a planned delivery into a message, checked again at the last moment.

Beneficiary messages are checked again when composed (erased, consent, contact), SMS are
held back in quiet hours (``domain.quiet_hours``: :class:`Deferred` until the morning), and
a reminder whose deadline has passed is not sent (:class:`Undeliverable`, "expired").
What these checks read (key, consent, contact, organisation, SMS provider) is read for a
whole claimed batch in one transaction per tenant, never cached between batches: a STOP or
an erasure applies from the next batch, and to a claimed row at once through its fence.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import httpx

from refuge_common.contract.vocabulary import FailureReason, SuppressionReason
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import tenant_transaction
from refuge_notifications.adapters import beneficiaries, case_copy, directory_copy
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.outcomes import BeforeSend
from refuge_notifications.adapters.sms_providers import ProviderConfig, SmsMessage
from refuge_notifications.domain.consent_wait import look_again_for_consent
from refuge_notifications.domain.message_values import UnknownTemplate, beneficiary_message, staff_values
from refuge_notifications.domain.phones import to_e164
from refuge_notifications.domain.quiet_hours import is_urgent, sms_send_time
from refuge_notifications.domain.rendering import (
    FALLBACK_LANGUAGE,
    SmsTooLong,
    beneficiary_language,
    language_for,
    render_email,
    render_sms,
)
from refuge_notifications.service_layer.outgoing import (
    AwaitingConsent,
    BeneficiaryChannels,
    Clock,
    Deferred,
    NotYet,
    Outgoing,
    Suppressed,
    Undeliverable,
)

STAFF_LANGUAGES = ("fr", "en")


class Composer:
    def __init__(
        self,
        keyring: Keyring,
        email: SmtpSender,
        beneficiaries: BeneficiaryChannels | None,
        clock: Clock,
    ) -> None:
        self._keyring = keyring
        self._email = email
        self._beneficiaries = beneficiaries
        self._clock = clock

    async def compose_batch(
        self, pool: asyncpg.Pool, rows: list[asyncpg.Record], http: httpx.AsyncClient
    ) -> list[Outgoing | Exception]:
        """The message of each row, or why there is none (``Undeliverable``, ``Suppressed``,
        ``Deferred``, ``NotYet``, or any other error: nothing was sent, retrying is safe).

        What beneficiary messages depend on (key, consent, contact, organisation, provider)
        is read in one transaction per tenant of the batch, after the claim: a withdrawal
        or an erasure committed before then applies; one committed after settles the
        claimed row as suppressed, and ``begin_sending`` then refuses it."""

        by_tenant: dict[UUID, list[asyncpg.Record]] = {}
        for row in rows:
            if row["recipient_kind"] == "beneficiary":
                by_tenant.setdefault(row["tenant_id"], []).append(row)
        facts: dict[UUID, _TenantFacts | Exception] = {}
        for tenant, tenant_rows in by_tenant.items():
            try:
                facts[tenant] = await self._tenant_facts(pool, tenant, tenant_rows)
            except Exception as error:  # each of its rows reports it, and is retried
                facts[tenant] = error
        results: list[Outgoing | Exception] = []
        for row in rows:
            try:
                if row["recipient_kind"] != "beneficiary":
                    results.append(await self._compose_for_staff(pool, row))
                    continue
                found = facts[row["tenant_id"]]
                if isinstance(found, Exception):
                    raise found
                results.append(self._compose_for_beneficiary(row, found, http))
            except UnknownTemplate as error:  # no wording for it: retrying would not find one
                results.append(Undeliverable(FailureReason.OTHER, str(error)))
            except Exception as error:
                results.append(error)
        return results

    async def _tenant_facts(
        self, pool: asyncpg.Pool, tenant: UUID, rows: list[asyncpg.Record]
    ) -> _TenantFacts:
        channels = self._beneficiaries
        persons = list({row["recipient_id"] for row in rows})
        async with tenant_transaction(pool, tenant) as connection:
            keys = await self._keyring.get_many(connection, persons)
            recipients = await beneficiaries.recipients(
                connection, list({(row["recipient_id"], row["channel"]) for row in rows})
            )
            organisation = await directory_copy.get_organisation(connection, tenant)
            provider_config = None
            if channels is not None and any(row["channel"] == "sms" for row in rows):
                provider_config = await channels.sms.config(connection, tenant)
            # Rare (office reminders, hearings): one query each, only for the rows that need it.
            office_zones: dict[str, str | None] = {}
            hearing_events: dict[str, str | None] = {}
            for row in rows:
                context = row["context"]
                office = context.get("office_id")
                if office and office not in office_zones:
                    office_zones[office] = await directory_copy.office_timezone(connection, office)
                hearing_id = context.get("hearing_id")
                if hearing_id and hearing_id not in hearing_events:
                    hearing = await case_copy.get_hearing(connection, UUID(hearing_id))
                    hearing_events[hearing_id] = hearing.last_event_id if hearing else None
        return _TenantFacts(keys, recipients, organisation, provider_config, office_zones, hearing_events)

    async def _compose_for_staff(self, pool: asyncpg.Pool, row: asyncpg.Record) -> Outgoing:
        if row["channel"] != "email":
            raise Undeliverable(FailureReason.OTHER, "staff are only written to by e-mail")
        async with tenant_transaction(pool, row["tenant_id"]) as connection:
            staff = await directory_copy.get_staff(connection, row["recipient_id"])
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
        timezone = _zone(staff.timezone, context.get("timezone")).key
        values = staff_values(
            row["template"],
            context,
            timezone,
            language,
            staff.organisation_name or "Refuge",
            row["recipient_kind"],
        )
        rendered = render_email(row["template"], language, values)
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

    def _compose_for_beneficiary(
        self, row: asyncpg.Record, facts: _TenantFacts, http: httpx.AsyncClient
    ) -> Outgoing:
        channels = self._beneficiaries
        if channels is None:
            raise Undeliverable(FailureReason.OTHER, "beneficiary channels are not configured")
        tenant, person_id, channel = row["tenant_id"], row["recipient_id"], row["channel"]
        context = row["context"]
        now = self._clock()
        key = facts.keys.get(person_id)
        if key is None:
            raise Suppressed(SuppressionReason.ERASED)
        recipient = facts.recipients.get((person_id, channel))
        consent = recipient.consent if recipient else None
        if consent is None:
            later = look_again_for_consent(row["created_at"], now, channels.consent_wait)
            if later is not None:
                raise AwaitingConsent(later)
            raise Suppressed(SuppressionReason.NO_CONSENT)
        if not consent.given:
            raise Suppressed(SuppressionReason.OPTED_OUT)
        contact = recipient.contact if recipient else None
        if contact is None:
            raise NotYet("the person's contact details have not arrived")
        if contact.personal_data is None:
            raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
        organisation = facts.organisation
        office_zone = facts.office_zones.get(context["office_id"]) if context.get("office_id") else None
        provider_config = facts.provider_config if channel == "sms" else None
        hearing_event = facts.hearing_events.get(context["hearing_id"]) if context.get("hearing_id") else None

        if hearing_event is not None and hearing_event != context.get("hearing_event_id"):
            raise Undeliverable(FailureReason.OTHER, "superseded: the hearing changed again since")
        zone = _zone(contact.timezone, office_zone, context["timezone"])
        language = beneficiary_language(
            contact.preferred_language, organisation.default_language if organisation else None
        )
        organisation_name = organisation.name if organisation else "Refuge"
        wording = beneficiary_message(row["template"], context, zone.key, language, organisation_name)
        due = wording.moment
        if due <= now:
            raise Undeliverable(FailureReason.OTHER, "expired: its date passed before it could be sent")
        try:
            personal = open_sealed(key, contact.personal_data)
        except UnreadableData as error:
            raise Suppressed(SuppressionReason.ERASED) from error
        values = wording.values

        if channel == "sms":
            phone = to_e164(personal.get("phone"))
            if phone is None:
                raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
            if provider_config is None:
                raise Undeliverable(FailureReason.OTHER, "the organisation has no SMS provider")
            urgent = is_urgent(wording.offset, due, now)
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
            provider = channels.sms.provider(http, provider_config, tenant)
            sms = SmsMessage(to=phone, body=body, idempotency_key=row["idempotency_key"])
            return Outgoing(
                send=lambda before: provider.send(sms, before),
                # connect + write + read, each bounded by the timeout
                timeout=3 * channels.sms_timeout,
                provider=provider.name,
                language=language.code,
                rate_key=provider_config.rate_key,
                rate_per_second=provider_config.rate_per_second,
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


@dataclass(frozen=True)
class _TenantFacts:
    """What the beneficiary messages of one tenant in a batch depend on."""

    keys: dict[UUID, bytes]  # a person without one was erased
    recipients: dict[tuple[UUID, str], beneficiaries.Recipient]
    organisation: directory_copy.Organisation | None
    provider_config: ProviderConfig | None
    office_zones: dict[str, str | None]
    hearing_events: dict[str, str | None]


def _zone(*candidates: str | None) -> ZoneInfo:
    """The first time zone of the candidates that this machine knows (the person's, the
    office's, the deadline's)."""

    for name in candidates:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")
