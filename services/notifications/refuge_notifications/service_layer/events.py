"""The refuge.notifications.v1 events of one delivery-log row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from refuge_common.contract.envelope import Envelope, new_event
from refuge_common.contract.notifications import NotificationSuppressed
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind, SuppressionReason
from refuge_notifications.schema import SOURCE


def common(row: asyncpg.Record | dict[str, Any], language: str | None = None) -> dict[str, Any]:
    """The fields every notification event carries: ids, never the message or the address."""

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
        "language": language,
    }


def suppressed(
    rows: Iterable[asyncpg.Record | dict[str, Any]],
    reason: SuppressionReason,
    *,
    deferred_until: datetime | None = None,
) -> list[Envelope]:
    return [
        new_event(
            SOURCE,
            NotificationSuppressed(reason=reason, deferred_until=deferred_until, **common(row)),
            row["tenant_id"],
        )
        for row in rows
    ]
