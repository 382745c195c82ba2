"""``refuge.notifications.v1``: what happened to each message, keyed by notification_id.

A notification is one (triggering event, recipient, channel); these events never
carry the message, the address or the provider's error text, which may quote them.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from refuge_common.contract import topics
from refuge_common.contract.base import EventData, event_type
from refuge_common.contract.vocabulary import (
    FailureReason,
    LanguageTag,
    NotificationChannel,
    RecipientKind,
    SuppressionReason,
)


class _Notification(EventData):
    notification_id: UUID
    channel: NotificationChannel
    recipient_kind: RecipientKind
    trigger_event_id: str = Field(min_length=1, description="the `id` of the CloudEvent that caused it")
    trigger_source: str = Field(min_length=1, description="the `source` of the CloudEvent that caused it")
    case_id: UUID | None = None
    deadline_id: UUID | None = None
    recipient_id: UUID | None = Field(
        default=None, description="person_id of a beneficiary, staff_id of staff"
    )
    language: LanguageTag | None = Field(default=None, description="language of the message")
    template: str | None = Field(default=None, description="id of the message template")


@event_type("org.refuge.notification.sent.v1", topic=topics.NOTIFICATIONS, subject="notification_id")
class NotificationSent(_Notification):
    """Emitted when a provider accepted the message for delivery."""

    provider: str | None = Field(default=None, description="e.g. smtp, an SMS gateway's id")


@event_type("org.refuge.notification.delivered.v1", topic=topics.NOTIFICATIONS, subject="notification_id")
class NotificationDelivered(_Notification):
    """Emitted when the provider reports the message delivered."""

    delivered_at: AwareDatetime | None = None


@event_type("org.refuge.notification.failed.v1", topic=topics.NOTIFICATIONS, subject="notification_id")
class NotificationFailed(_Notification):
    """Emitted when the message could not be sent or delivered, after retries if any."""

    reason: FailureReason
    provider_code: str | None = Field(
        default=None, description="the provider's error code, never its message text"
    )


@event_type("org.refuge.notification.suppressed.v1", topic=topics.NOTIFICATIONS, subject="notification_id")
class NotificationSuppressed(_Notification):
    """Emitted when a message is not sent (no consent, opted out, erased) or is deferred."""

    reason: SuppressionReason
    deferred_until: AwareDatetime | None = Field(
        default=None, description="quiet_hours_deferred: when it will be sent instead"
    )
