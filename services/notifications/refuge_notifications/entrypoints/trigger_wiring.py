"""Which events make messages, wired onto the service's consumers; and the weekly digest job."""

from __future__ import annotations

from refuge_common.contract.cases import CaseHearingCancelled, CaseHearingRescheduled, CaseHearingScheduled
from refuge_common.contract.deadlines import (
    DeadlineCancelled,
    DeadlineComputed,
    DeadlineMet,
    DeadlineMissed,
    DeadlineUpdated,
    ReminderDue,
)
from refuge_common.crypto.keyring import Keyring
from refuge_common.messaging.consumer import EventConsumer
from refuge_common.runtime import ServiceRuntime
from refuge_notifications.entrypoints.digest_scheduler import DigestScheduler
from refuge_notifications.service_layer import case_triggers
from refuge_notifications.service_layer.outgoing import Clock
from refuge_notifications.service_layer.reminder_triggers import ReminderDueHandler
from refuge_notifications.settings import NotificationsSettings


def install_triggers(
    runtime: ServiceRuntime,
    settings: NotificationsSettings,
    keyring: Keyring,
    *,
    cases: EventConsumer,
    deadlines: EventConsumer,
    clock: Clock,
) -> DigestScheduler:
    cases.on(CaseHearingScheduled, CaseHearingRescheduled, CaseHearingCancelled)(
        case_triggers.HearingChangedHandler(keyring)
    )
    deadlines.on(ReminderDue)(ReminderDueHandler(keyring))
    deadlines.on(DeadlineComputed, DeadlineUpdated)(case_triggers.deadline_changed)
    deadlines.on(DeadlineMet, DeadlineCancelled)(case_triggers.deadline_closed)
    deadlines.on(DeadlineMissed)(case_triggers.deadline_missed)
    digests = DigestScheduler(
        runtime.across_tenants_pool(),  # it looks for every organisation's coming deadlines
        clock,
        interval_seconds=settings.notifications_digest_interval_seconds,
        horizon_days=settings.notifications_digest_horizon_days,
        send_hour=settings.notifications_digest_hour,
    )
    runtime.background(digests.run)
    return digests
