"""Consent to be written to, per person and channel, and what a withdrawal stops at once."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from refuge_common.contract.vocabulary import SuppressionReason
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import add_to_outbox
from refuge_notifications import metrics
from refuge_notifications.adapters import beneficiaries, delivery_log
from refuge_notifications.service_layer import events

CASE_EVENT = "case_event"
STOP_REPLY = "stop_reply"
UNSUBSCRIBE_LINK = "unsubscribe_link"


async def record(
    connection: Connection,
    tenant_id: UUID,
    person_id: UUID,
    channel: str,
    *,
    given: bool,
    recorded_at: datetime,
    source: str,
    case_id: UUID | None = None,
) -> beneficiaries.Consent:
    """Record a decision (the latest ``recorded_at`` wins). When the consent in force is now
    withdrawn, every message to that person on that channel not yet being sent is settled
    as suppressed (``opted_out``) in the same transaction, and reported."""

    consent = await beneficiaries.record_consent(
        connection,
        person_id=person_id,
        tenant_id=tenant_id,
        channel=channel,
        given=given,
        recorded_at=recorded_at,
        source=source,
        case_id=case_id,
    )
    if not consent.given:
        stopped = await delivery_log.suppress_open_deliveries(
            connection, tenant_id, person_id, channel, SuppressionReason.OPTED_OUT.value
        )
        await add_to_outbox(connection, events.suppressed(stopped, SuppressionReason.OPTED_OUT))
        for row in stopped:
            metrics.count_final(row["channel"], "suppressed")
    return consent
