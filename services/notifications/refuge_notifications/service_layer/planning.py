"""Planning deliveries: the organisation's policy, then one delivery-log row per recipient
and channel, written before anything is sent (the dispatcher sends after the commit)."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind, SuppressionReason
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import beneficiaries, delivery_log, organisation_config
from refuge_notifications.domain import policy
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.service_layer import events

log = get_logger(__name__)
BENEFICIARY_CHANNELS = (NotificationChannel.SMS, NotificationChannel.EMAIL)


async def overrides(connection: Connection) -> dict[policy.Rule, bool]:
    """The current tenant's overrides of the default policy (unknown rows are ignored)."""

    found: dict[policy.Rule, bool] = {}
    for row in await organisation_config.policy_overrides(connection):
        try:
            rule = policy.Rule(
                row["trigger_name"], RecipientKind(row["recipient_kind"]), NotificationChannel(row["channel"])
            )
        except ValueError:
            continue
        found[rule] = row["enabled"]
    return found


def planned(
    envelope: Envelope,
    tenant: UUID,
    kind: RecipientKind,
    recipient: UUID,
    channel: NotificationChannel,
    template: str,
    context: dict[str, Any],
    *,
    case_id: UUID | None,
    deadline_id: UUID | None = None,
) -> PlannedDelivery:
    return PlannedDelivery(
        delivery_id=uuid.uuid4(),
        tenant_id=tenant,
        trigger_event_id=envelope.id,
        trigger_source=envelope.source,
        channel=channel,
        recipient_kind=kind,
        recipient_id=recipient,
        template=template,
        context=context,
        case_id=case_id,
        deadline_id=deadline_id,
    )


async def refusal(
    connection: Connection, keyring: Keyring, person_id: UUID, channel: NotificationChannel
) -> SuppressionReason | None:
    """Why a beneficiary may not be written to on ``channel``, or None if they may (or if
    that cannot be known yet: the dispatcher decides again before sending)."""

    if await keyring.get(connection, person_id) is None:
        return SuppressionReason.ERASED  # or never registered: either way, no one to write to
    consent = await beneficiaries.get_consent(connection, person_id, channel.value)
    if consent is None:
        # It may still be on its way (consents travel on refuge.cases.v1, a reminder on
        # refuge.deadlines.v1): the dispatcher waits for it, boundedly, then decides.
        return None
    return None if consent.given else SuppressionReason.OPTED_OUT


async def plan_for_beneficiary(connection: Connection, keyring: Keyring, delivery: PlannedDelivery) -> None:
    """A pending row, or, for a message that may not be sent (no consent, withdrawn, erased),
    a suppressed one with its ``notification.suppressed`` event: the log says why."""

    reason = await refusal(connection, keyring, delivery.recipient_id, delivery.channel)
    if reason is None:
        await delivery_log.plan_delivery(connection, delivery)
    elif await delivery_log.plan_delivery(connection, delivery, status="suppressed", reason=reason.value):
        row = {**row_of(delivery), "tenant_id": delivery.tenant_id}
        await add_to_outbox(connection, events.suppressed([row], reason))
        metrics.count_final(delivery.channel.value, "suppressed")
        log.info("notification_suppressed", delivery_id=str(delivery.delivery_id), reason=reason.value)


def row_of(delivery: PlannedDelivery) -> dict[str, object]:
    """The columns of a delivery-log row that its events carry."""

    return {
        "delivery_id": delivery.delivery_id,
        "channel": delivery.channel.value,
        "recipient_kind": delivery.recipient_kind.value,
        "trigger_event_id": delivery.trigger_event_id,
        "trigger_source": delivery.trigger_source,
        "case_id": delivery.case_id,
        "deadline_id": delivery.deadline_id,
        "recipient_id": delivery.recipient_id,
        "template": delivery.template,
    }
