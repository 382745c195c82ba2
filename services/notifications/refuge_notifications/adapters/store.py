"""SQL for notifications' read-models and its delivery log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection
from refuge_notifications.domain.deliveries import PlannedDelivery


@dataclass(frozen=True)
class StaffContact:
    staff_id: UUID
    tenant_id: UUID
    preferred_language: str
    timezone: str | None
    contact: Sealed | None
    organisation_name: str | None


async def upsert_organisation(
    connection: Connection, organisation_id: UUID, name: str, default_language: str
) -> None:
    await connection.execute(
        """INSERT INTO organisations (organisation_id, tenant_id, name, default_language)
           VALUES ($1, $1, $2, $3)
           ON CONFLICT (organisation_id) DO UPDATE SET name = $2, default_language = $3""",
        organisation_id,
        name,
        default_language,
    )


async def upsert_staff(
    connection: Connection,
    *,
    staff_id: UUID,
    tenant_id: UUID,
    office_id: UUID | None,
    role: str,
    preferred_language: str,
    timezone: str | None,
    contact: Sealed | None,
) -> None:
    await connection.execute(
        """INSERT INTO staff_contacts (staff_id, tenant_id, office_id, role, preferred_language,
                                       timezone, contact)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (staff_id) DO UPDATE SET office_id = $3, role = $4,
               preferred_language = $5, timezone = $6, contact = $7""",
        staff_id,
        tenant_id,
        office_id,
        role,
        preferred_language,
        timezone,
        json.loads(contact.model_dump_json()) if contact else None,
    )


async def delete_staff(connection: Connection, staff_id: UUID) -> None:
    await connection.execute("DELETE FROM staff_contacts WHERE staff_id = $1", staff_id)


async def get_staff(connection: Connection, staff_id: UUID) -> StaffContact | None:
    row = await connection.fetchrow(
        """SELECT s.staff_id, s.tenant_id, s.preferred_language, s.timezone, s.contact,
                  o.name AS organisation_name
           FROM staff_contacts s LEFT JOIN organisations o ON o.organisation_id = s.tenant_id
           WHERE s.staff_id = $1""",
        staff_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["contact"] = Sealed.model_validate(values["contact"]) if values["contact"] else None
    return StaffContact(**values)


async def plan_delivery(
    connection: Connection,
    delivery: PlannedDelivery,
    *,
    status: str = "pending",
    reason: str | None = None,
) -> bool:
    """Write the delivery log row; False if this (event, recipient, channel) already has one.

    ``status`` is ``suppressed`` (with its ``reason``) for a message decided against at once:
    the log says why nothing was sent."""

    inserted = await connection.fetchval(
        """INSERT INTO deliveries (delivery_id, tenant_id, idempotency_key, trigger_event_id,
               trigger_source, channel, recipient_kind, recipient_id, template, context, case_id,
               deadline_id, status, last_error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
        delivery.delivery_id,
        delivery.tenant_id,
        delivery.idempotency_key,
        delivery.trigger_event_id,
        delivery.trigger_source,
        delivery.channel.value,
        delivery.recipient_kind.value,
        delivery.recipient_id,
        delivery.template,
        delivery.context,
        delivery.case_id,
        delivery.deadline_id,
        status,
        reason,
    )
    return bool(inserted)


DELIVERY_COLUMNS = """delivery_id, tenant_id, idempotency_key, trigger_event_id, trigger_source, channel,
          recipient_kind, recipient_id, template, context, case_id, deadline_id, attempts, claim_token"""

# Pending rows whose time has come ($3: the dispatcher's clock, now() when not given), and
# claimed rows whose dispatcher died before it called the provider (it never began
# sending: claiming them again is safe).
CLAIM = f"""
UPDATE deliveries SET status = 'claimed', claim_token = gen_random_uuid(),
       lease_until = now() + make_interval(secs => $2)
WHERE delivery_id IN (
    SELECT delivery_id FROM deliveries
    WHERE (status = 'pending' AND next_attempt_at <= coalesce($3::timestamptz, now()))
       OR (status = 'claimed' AND lease_until < now())
    ORDER BY next_attempt_at LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING {DELIVERY_COLUMNS}
"""

# Rows whose dispatcher died during the provider call: whether the provider accepted the
# message cannot be known, and sending again could send it twice.
ABANDONED = f"""
SELECT {DELIVERY_COLUMNS}
FROM deliveries WHERE status = 'sending' AND lease_until < now()
ORDER BY lease_until LIMIT $1
"""


async def claim_deliveries(
    pool: asyncpg.Pool, limit: int, lease_seconds: int, now: datetime | None = None
) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return list(await connection.fetch(CLAIM, limit, float(lease_seconds), now))


async def abandoned_sends(pool: asyncpg.Pool, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return list(await connection.fetch(ABANDONED, limit))


async def begin_sending(
    connection: Connection, delivery_id: UUID, claim_token: UUID, lease_seconds: int
) -> bool:
    """Record, before the provider call, that the call is about to happen. False if this
    dispatcher's claim lapsed and another took the row: it must not call the provider."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = 'sending', sending_at = now(),
               lease_until = now() + make_interval(secs => $3)
           WHERE delivery_id = $1 AND claim_token = $2 AND status = 'claimed' RETURNING true""",
        delivery_id,
        claim_token,
        float(lease_seconds),
    )
    return bool(updated)


async def settle(
    connection: Connection,
    delivery_id: UUID,
    claim_token: UUID,
    status: str,
    error: str | None = None,
    *,
    provider: str | None = None,
    provider_message_id: str | None = None,
    language: str | None = None,
) -> bool:
    """Record the outcome (sent, failed, unknown or suppressed) of the claim ``claim_token``;
    False if that claim no longer holds the row (it was settled, suppressed by a consent
    withdrawal or an erasure, or claimed again meanwhile)."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = $3, last_error = coalesce($4, last_error), lease_until = NULL,
               sent_at = CASE WHEN $3 = 'sent' THEN now() END,
               provider = coalesce($5, provider), provider_message_id = coalesce($6, provider_message_id),
               language = coalesce($7, language)
           WHERE delivery_id = $1 AND claim_token = $2 AND status IN ('claimed', 'sending')
           RETURNING true""",
        delivery_id,
        claim_token,
        status,
        error,
        provider,
        provider_message_id,
        language,
    )
    return bool(updated)


async def defer(connection: Connection, delivery_id: UUID, claim_token: UUID, until: datetime) -> bool:
    """Put a claimed delivery back to wait until ``until`` (quiet hours); not an attempt."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = $3
           WHERE delivery_id = $1 AND claim_token = $2 AND status = 'claimed' RETURNING true""",
        delivery_id,
        claim_token,
        until,
    )
    return bool(updated)


async def retry_later(
    connection: Connection, delivery_id: UUID, claim_token: UUID, delay: float, error: str
) -> None:
    await connection.execute(
        """UPDATE deliveries SET status = 'pending', lease_until = NULL, last_error = $4,
               attempts = attempts + 1,
               next_attempt_at = now() + make_interval(secs => $3)
           WHERE delivery_id = $1 AND claim_token = $2 AND status IN ('claimed', 'sending')""",
        delivery_id,
        claim_token,
        delay,
        error,
    )


async def next_attempt_at(pool: asyncpg.Pool) -> datetime | None:
    return await pool.fetchval(  # type: ignore[no-any-return]
        """SELECT min(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)
           FROM deliveries WHERE status IN ('pending', 'claimed', 'sending')"""
    )


# --- beneficiaries: contacts, cases, consents -------------------------------------------


@dataclass(frozen=True)
class PersonContact:
    person_id: UUID
    tenant_id: UUID
    preferred_language: str | None
    timezone: str | None
    personal_data: Sealed | None


@dataclass(frozen=True)
class Consent:
    given: bool
    recorded_at: datetime
    source: str


@dataclass(frozen=True)
class Organisation:
    name: str
    default_language: str


async def get_organisation(connection: Connection, organisation_id: UUID) -> Organisation | None:
    row = await connection.fetchrow(
        "SELECT name, default_language FROM organisations WHERE organisation_id = $1", organisation_id
    )
    return Organisation(row["name"], row["default_language"]) if row else None


async def upsert_office(connection: Connection, office_id: UUID, tenant_id: UUID, timezone: str) -> None:
    await connection.execute(
        """INSERT INTO offices (office_id, tenant_id, timezone) VALUES ($1, $2, $3)
           ON CONFLICT (office_id) DO UPDATE SET timezone = $3""",
        office_id,
        tenant_id,
        timezone,
    )


async def office_timezone(connection: Connection, office_id: UUID) -> str | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT timezone FROM offices WHERE office_id = $1", office_id
    )


async def upsert_person(
    connection: Connection,
    *,
    person_id: UUID,
    tenant_id: UUID,
    preferred_language: str | None,
    timezone: str | None,
    personal_data: Sealed | None,
    phone_hash: bytes | None,
) -> None:
    await connection.execute(
        """INSERT INTO person_contacts (person_id, tenant_id, preferred_language, timezone,
                                        personal_data, phone_hash)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (person_id) DO UPDATE SET preferred_language = $3, timezone = $4,
               personal_data = $5, phone_hash = $6, updated_at = now()""",
        person_id,
        tenant_id,
        preferred_language,
        timezone,
        json.loads(personal_data.model_dump_json()) if personal_data else None,
        phone_hash,
    )


async def get_person(connection: Connection, person_id: UUID) -> PersonContact | None:
    row = await connection.fetchrow(
        """SELECT person_id, tenant_id, preferred_language, timezone, personal_data
           FROM person_contacts WHERE person_id = $1""",
        person_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["personal_data"] = (
        Sealed.model_validate(values["personal_data"]) if values["personal_data"] else None
    )
    return PersonContact(**values)


async def forget_person(connection: Connection, person_id: UUID) -> None:
    """Everything this service holds about a person, but the delivery log's ids."""

    await connection.execute("DELETE FROM person_contacts WHERE person_id = $1", person_id)
    await connection.execute("DELETE FROM consents WHERE person_id = $1", person_id)
    await connection.execute("DELETE FROM case_persons WHERE person_id = $1", person_id)


async def persons_with_phone(connection: Connection, phone_hash: bytes) -> list[UUID]:
    rows = await connection.fetch("SELECT person_id FROM person_contacts WHERE phone_hash = $1", phone_hash)
    return [row["person_id"] for row in rows]


async def link_case(
    connection: Connection, case_id: UUID, tenant_id: UUID, person_id: UUID | None, office_id: UUID | None
) -> None:
    await connection.execute(
        """INSERT INTO case_persons (case_id, tenant_id, person_id, office_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (case_id) DO UPDATE SET person_id = coalesce($3, case_persons.person_id),
               office_id = coalesce($4, case_persons.office_id)""",
        case_id,
        tenant_id,
        person_id,
        office_id,
    )


async def case_person(connection: Connection, case_id: UUID) -> tuple[UUID | None, UUID | None]:
    """(person_id, office_id) of a case, as far as this service knows."""

    row = await connection.fetchrow(
        "SELECT person_id, office_id FROM case_persons WHERE case_id = $1", case_id
    )
    return (row["person_id"], row["office_id"]) if row else (None, None)


async def record_consent(
    connection: Connection,
    *,
    person_id: UUID,
    tenant_id: UUID,
    channel: str,
    given: bool,
    recorded_at: datetime,
    source: str,
    case_id: UUID | None = None,
) -> Consent:
    """Record a consent decision unless a later one is on record; return the one in force.

    The latest ``recorded_at`` wins; on a tie, the withdrawal does."""

    await connection.execute(
        """INSERT INTO consents (person_id, channel, tenant_id, given, recorded_at, source, case_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (person_id, channel) DO UPDATE
               SET given = EXCLUDED.given, recorded_at = EXCLUDED.recorded_at,
                   source = EXCLUDED.source, case_id = EXCLUDED.case_id
               WHERE EXCLUDED.recorded_at > consents.recorded_at
                  OR (EXCLUDED.recorded_at = consents.recorded_at AND NOT EXCLUDED.given)""",
        person_id,
        channel,
        tenant_id,
        given,
        recorded_at,
        source,
        case_id,
    )
    consent = await get_consent(connection, person_id, channel)
    assert consent is not None
    return consent


async def get_consent(connection: Connection, person_id: UUID, channel: str) -> Consent | None:
    row = await connection.fetchrow(
        "SELECT given, recorded_at, source FROM consents WHERE person_id = $1 AND channel = $2",
        person_id,
        channel,
    )
    return Consent(row["given"], row["recorded_at"], row["source"]) if row else None


async def suppress_open_deliveries(
    connection: Connection, tenant_id: UUID, person_id: UUID, channel: str | None, reason: str
) -> list[asyncpg.Record]:
    """Settle as suppressed the beneficiary's deliveries not yet being sent (pending, or
    claimed by a dispatcher that has not called the provider: its ``begin_sending`` will
    find the row changed and send nothing). Returns them, to report each."""

    return list(
        await connection.fetch(
            f"""UPDATE deliveries SET status = 'suppressed', last_error = $4, lease_until = NULL
                WHERE tenant_id = $1 AND recipient_id = $2 AND recipient_kind = 'beneficiary'
                  AND ($3::text IS NULL OR channel = $3) AND status IN ('pending', 'claimed')
                RETURNING {DELIVERY_COLUMNS}""",
            tenant_id,
            person_id,
            channel,
            reason,
        )
    )


async def record_receipt(
    connection: Connection,
    tenant_id: UUID,
    *,
    provider_message_id: str | None,
    idempotency_key: str | None,
    receipt: str,
) -> asyncpg.Record | None:
    """Note the provider's final word on a message, once; the delivery, or None if unknown
    or already noted."""

    return await connection.fetchrow(
        f"""UPDATE deliveries SET receipt = $4, receipt_at = now()
            WHERE tenant_id = $1 AND receipt IS NULL AND status IN ('sent', 'unknown')
              AND (provider_message_id = $2 OR idempotency_key = $3)
            RETURNING {DELIVERY_COLUMNS}""",
        tenant_id,
        provider_message_id,
        idempotency_key,
        receipt,
    )


# --- per-organisation configuration -------------------------------------------------------


async def policy_overrides(connection: Connection) -> list[asyncpg.Record]:
    """The current tenant's overrides (row-level security selects the tenant)."""

    return list(
        await connection.fetch(
            "SELECT trigger_name, recipient_kind, channel, enabled FROM notification_policies"
        )
    )


async def set_policy(
    connection: Connection,
    tenant_id: UUID,
    trigger: str,
    recipient_kind: str,
    channel: str,
    enabled: bool | None,
) -> None:
    """Override one rule of the default policy; ``None`` returns it to the default."""

    if enabled is None:
        await connection.execute(
            """DELETE FROM notification_policies
               WHERE tenant_id = $1 AND trigger_name = $2 AND recipient_kind = $3 AND channel = $4""",
            tenant_id,
            trigger,
            recipient_kind,
            channel,
        )
        return
    await connection.execute(
        """INSERT INTO notification_policies (tenant_id, trigger_name, recipient_kind, channel, enabled)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, trigger_name, recipient_kind, channel)
           DO UPDATE SET enabled = $5, updated_at = now()""",
        tenant_id,
        trigger,
        recipient_kind,
        channel,
        enabled,
    )


async def organisation_wrapped_key(connection: Connection, tenant_id: UUID) -> bytes | None:
    wrapped = await connection.fetchval(
        "SELECT wrapped_key FROM organisation_keys WHERE tenant_id = $1", tenant_id
    )
    return bytes(wrapped) if wrapped is not None else None


async def add_organisation_key(connection: Connection, tenant_id: UUID, wrapped_key: bytes) -> None:
    await connection.execute(
        "INSERT INTO organisation_keys (tenant_id, wrapped_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant_id,
        wrapped_key,
    )


@dataclass(frozen=True)
class SmsProviderRow:
    kind: str
    settings: dict[str, str]
    credentials: Sealed


async def put_sms_provider(
    connection: Connection, tenant_id: UUID, kind: str, settings: dict[str, str], credentials: Sealed
) -> None:
    await connection.execute(
        """INSERT INTO sms_providers (tenant_id, kind, settings, credentials) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id) DO UPDATE SET kind = $2, settings = $3, credentials = $4,
               updated_at = now()""",
        tenant_id,
        kind,
        settings,
        json.loads(credentials.model_dump_json()),
    )


async def get_sms_provider(connection: Connection, tenant_id: UUID) -> SmsProviderRow | None:
    row = await connection.fetchrow(
        "SELECT kind, settings, credentials FROM sms_providers WHERE tenant_id = $1", tenant_id
    )
    if row is None:
        return None
    return SmsProviderRow(row["kind"], dict(row["settings"]), Sealed.model_validate(row["credentials"]))


async def delete_sms_provider(connection: Connection, tenant_id: UUID) -> bool:
    status = await connection.execute("DELETE FROM sms_providers WHERE tenant_id = $1", tenant_id)
    return bool(status.endswith(" 1"))
