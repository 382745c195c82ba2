"""The weekly caseworker digest: each office's coming deadlines, once per (staff, ISO week).

It is planned like any message, in the delivery log, whose idempotency key is over
(trigger, recipient, channel): the trigger here is the office's ISO week, so running the job
again (every few minutes, after a restart, on two replicas) plans nothing twice. The list is
taken when the digest is planned: the first run after the office's Monday morning.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.db.pool import tenant_transaction
from refuge_notifications.adapters import case_copy, delivery_log, directory_copy
from refuge_notifications.domain import policy
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.domain.message_values import CASEWORKER_DIGEST
from refuge_notifications.schema import SOURCE
from refuge_notifications.service_layer import planning

DIGEST_SOURCE = f"{SOURCE}/weekly-digest"


def iso_week(local: datetime) -> str:
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}"


def digest_time(local: datetime, hour: int) -> datetime:
    """Monday ``hour``:00 of the ISO week of ``local``, in its zone."""

    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, hour, tzinfo=local.tzinfo)


async def plan_weekly_digests(pool: asyncpg.Pool, now: datetime, *, horizon_days: int, send_hour: int) -> int:
    """Plan the digests whose time has come this week; the number newly planned."""

    end = now + timedelta(days=horizon_days)
    planned = 0
    for tenant, office in await case_copy.offices_with_coming_deadlines(pool, now, end):
        async with tenant_transaction(pool, tenant) as connection:
            zone = _zone(await directory_copy.office_timezone(connection, office))
            local = now.astimezone(zone)
            if local < digest_time(local, send_hour):
                continue
            rule = policy.Rule(policy.WEEKLY_DIGEST, RecipientKind.CASEWORKER, NotificationChannel.EMAIL)
            if not policy.enabled(rule, await planning.overrides(connection)):
                continue
            caseworkers = await directory_copy.staff_of_office(connection, office, "caseworker")
            if not caseworkers:
                continue
            context: dict[str, Any] = {
                "week": iso_week(local),
                "horizon_days": horizon_days,
                "office_id": str(office),
                "timezone": zone.key,
                "deadlines": await case_copy.coming_deadlines(connection, office, now, end),
            }
            for staff_id in caseworkers:
                delivery = _digest(tenant, staff_id, context)
                planned += int(await delivery_log.plan_delivery(connection, delivery))
    return planned


def _digest(tenant: UUID, staff_id: UUID, context: dict[str, Any]) -> PlannedDelivery:
    return PlannedDelivery(
        delivery_id=uuid.uuid4(),
        tenant_id=tenant,
        trigger_event_id=context["week"],
        trigger_source=DIGEST_SOURCE,
        channel=NotificationChannel.EMAIL,
        recipient_kind=RecipientKind.CASEWORKER,
        recipient_id=staff_id,
        template=CASEWORKER_DIGEST,
        context=context,
        case_id=None,
        deadline_id=None,
    )


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
