"""What a delivery is and how it is identified: pure rules, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind


def idempotency_key(
    trigger_source: str, trigger_event_id: str, recipient_id: UUID, channel: NotificationChannel
) -> str:
    """One message per (triggering event, recipient, channel): the key the log is unique on,
    passed to providers that deduplicate, and the local part of the e-mail Message-ID."""

    material = f"{trigger_source}\x1f{trigger_event_id}\x1f{recipient_id}\x1f{channel.value}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class PlannedDelivery:
    delivery_id: UUID
    tenant_id: UUID
    trigger_event_id: str
    trigger_source: str
    channel: NotificationChannel
    recipient_kind: RecipientKind
    recipient_id: UUID
    template: str
    context: dict[str, Any]  # ids, purposes and instants: never personal data
    case_id: UUID | None
    deadline_id: UUID | None

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.trigger_source, self.trigger_event_id, self.recipient_id, self.channel)


def backoff_seconds(attempts: int, *, initial: float = 5.0, ceiling: float = 900.0) -> float:
    """Delay before the next send attempt after ``attempts`` failures."""

    return float(min(ceiling, initial * 2 ** max(0, attempts - 1)))
