"""Notifications' composition root: read-models, reminder consumer, dispatcher, HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from refuge_common.contract import topics
from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.directory import (
    OrganisationRegistered,
    StaffRegistered,
    StaffRemoved,
    StaffUpdated,
)
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.runtime import ServiceRuntime
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.entrypoints.dispatcher import Dispatcher
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer import handlers
from refuge_notifications.settings import NotificationsSettings


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    if settings.master_key is None:
        raise SystemExit("REFUGE_MASTER_KEY is not set: notifications cannot read contact details")
    keyring = Keyring(MasterKeyWrapper(settings.master_key.get_secret_value()))
    runtime = ServiceRuntime("notifications", settings, SCHEMA)

    directory = runtime.consumer("directory")
    directory.on(OrganisationRegistered)(handlers.organisation_registered)
    directory.on(StaffRegistered, StaffUpdated)(handlers.staff_changed)
    directory.on(StaffRemoved)(handlers.StaffRemovedHandler(keyring))
    runtime.subscribe(directory, topics.DIRECTORY)

    deadlines = runtime.consumer("deadlines")
    deadlines.on(ReminderDue)(handlers.reminder_due)
    runtime.subscribe(deadlines, topics.DEADLINES)

    password = settings.smtp_password
    email = SmtpSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout=settings.smtp_timeout_seconds,
    )
    dispatcher = Dispatcher(
        lambda: runtime.pool,
        keyring,
        email,
        max_attempts=settings.notifications_max_attempts,
        lease_seconds=settings.notifications_send_lease_seconds,
    )
    runtime.background(dispatcher.run)

    app = runtime.http_app(
        title="Refuge notifications",
        version="0.1.0",
        description="SMS and e-mail to beneficiaries and staff.",
    )
    app.state.runtime = runtime
    return app
