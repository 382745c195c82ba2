"""Composing a planned delivery into a message, checked again at the last moment.

Beneficiary messages are checked again when composed (erased, consent, contact), SMS are
held back in quiet hours (``domain.quiet_hours``: :class:`Deferred` until the morning), and
a reminder whose deadline has passed is not sent (:class:`Undeliverable`, "expired").
"""

from __future__ import annotations

import contextlib
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
from refuge_notifications.adapters.sms_providers import SmsMessage
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

    async def compose(self, pool: asyncpg.Pool, row: asyncpg.Record, http: httpx.AsyncClient) -> Outgoing:
        """The message of ``row``, checked again against consent, erasure and quiet hours."""

        try:
            if row["recipient_kind"] == "beneficiary":
                return await self._compose_for_beneficiary(pool, row, http)
            return await self._compose_for_staff(pool, row)
        except UnknownTemplate as error:  # no wording for it: retrying would not find one
            raise Undeliverable(FailureReason.OTHER, str(error)) from error

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

    async def _compose_for_beneficiary(
        self, pool: asyncpg.Pool, row: asyncpg.Record, http: httpx.AsyncClient
    ) -> Outgoing:
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
            consent = await beneficiaries.get_consent(connection, person_id, channel)
            if consent is None:
                raise Suppressed(SuppressionReason.NO_CONSENT)
            if not consent.given:
                raise Suppressed(SuppressionReason.OPTED_OUT)
            contact = await beneficiaries.get_person(connection, person_id)
            if contact is None:
                raise NotYet("the person's contact details have not arrived")
            if contact.personal_data is None:
                raise Undeliverable(FailureReason.NO_CONTACT_DETAILS)
            organisation = await directory_copy.get_organisation(connection, tenant)
            office_zone = None
            if context.get("office_id"):
                office_zone = await directory_copy.office_timezone(connection, context["office_id"])
            provider_config = await channels.sms.config(connection, tenant) if channel == "sms" else None
            hearing_event = None
            if context.get("hearing_id"):
                hearing = await case_copy.get_hearing(connection, UUID(context["hearing_id"]))
                hearing_event = hearing.last_event_id if hearing else None

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


def _zone(*candidates: str | None) -> ZoneInfo:
    """The first time zone of the candidates that this machine knows (the person's, the
    office's, the deadline's)."""

    for name in candidates:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")
