"""Notifications' composition root: read-models, reminder consumer, dispatcher, HTTP app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from refuge_common.contract import topics
from refuge_common.contract.cases import CaseConsentRecorded, CaseOpened, CaseTransferred
from refuge_common.contract.directory import (
    OfficeOpened,
    OfficeUpdated,
    OrganisationRegistered,
    StaffRegistered,
    StaffRemoved,
    StaffUpdated,
)
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.observability.logging import get_logger
from refuge_common.runtime import ServiceRuntime
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.quiet_hours import QuietHours
from refuge_notifications.domain.signatures import UnsubscribeTokens, derive_secret
from refuge_notifications.entrypoints.dispatcher import BeneficiaryChannels, Clock, Dispatcher, utc_now
from refuge_notifications.entrypoints.http_inbound import inbound_router
from refuge_notifications.entrypoints.http_staff import install_staff_routes
from refuge_notifications.entrypoints.trigger_wiring import install_triggers
from refuge_notifications.entrypoints.webhook_wiring import install_webhooks
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer import handlers
from refuge_notifications.service_layer.sms_routing import SmsRouting
from refuge_notifications.settings import NotificationsSettings

log = get_logger(__name__)


def public_url(settings: NotificationsSettings) -> str:
    return settings.notifications_public_url or f"http://{settings.http_host}:{settings.notifications_port}"


def secret(settings: NotificationsSettings, name: str) -> bytes:
    """A secret setting, or the one derived from the master key for that purpose."""

    configured = getattr(settings, f"notifications_{name.replace('-', '_')}_secret")
    if configured is not None:
        return bytes(configured.get_secret_value().encode())
    assert settings.master_key is not None
    return derive_secret(settings.master_key.get_secret_value(), name)


def sms_routing(settings: NotificationsSettings, wrapper: MasterKeyWrapper) -> SmsRouting:
    inbound = settings.notifications_sms_default_inbound_secret
    return SmsRouting(
        OrganisationSecrets(wrapper),
        public_url=public_url(settings),
        default_webhook_url=settings.notifications_sms_default_webhook_url,
        default_inbound_secret=inbound.get_secret_value() if inbound else None,
    )


def build_app(settings: NotificationsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or NotificationsSettings()
    if settings.master_key is None:
        raise SystemExit("REFUGE_MASTER_KEY is not set: notifications cannot read contact details")
    wrapper = MasterKeyWrapper(settings.master_key.get_secret_value())
    keyring = Keyring(wrapper)
    runtime = ServiceRuntime("notifications", settings, SCHEMA)
    runtime.publishes(topics.NOTIFICATIONS)  # every type on it, through the outbox (AsyncAPI document)
    phone_secret = secret(settings, "phone-hash")

    directory = runtime.consumer("directory")
    directory.on(OrganisationRegistered)(handlers.organisation_registered)
    directory.on(OfficeOpened, OfficeUpdated)(handlers.office_changed)
    directory.on(StaffRegistered, StaffUpdated)(handlers.staff_changed)
    directory.on(StaffRemoved)(handlers.StaffRemovedHandler(keyring))
    runtime.subscribe(directory, topics.DIRECTORY)

    persons = runtime.consumer("persons")
    persons.on(PersonRegistered, PersonUpdated)(handlers.PersonChangedHandler(keyring, phone_secret))
    persons.on(PersonErased)(handlers.PersonErasedHandler(keyring))
    runtime.subscribe(persons, topics.PERSONS)

    cases = runtime.consumer("cases")
    cases.on(CaseOpened)(handlers.case_opened)
    cases.on(CaseTransferred)(handlers.case_transferred)
    cases.on(CaseConsentRecorded)(handlers.consent_recorded)
    runtime.subscribe(cases, topics.CASES)

    deadlines = runtime.consumer("deadlines")
    install_triggers(runtime, settings, keyring, cases=cases, deadlines=deadlines, clock=clock)
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
        pool_size=settings.smtp_pool_size,
    )
    if settings.notifications_public_url is None and settings.http_host in {"0.0.0.0", "::"}:
        log.warning(
            "notifications_public_url_unset",
            hint="unsubscribe links and provider callbacks name a listening address, not a public one",
        )
    sms = sms_routing(settings, wrapper)
    tokens = UnsubscribeTokens(secret(settings, "unsubscribe"))
    dispatcher = Dispatcher(
        runtime.across_tenants_pool(),  # it claims every organisation's due messages
        keyring,
        email,
        max_attempts=settings.notifications_max_attempts,
        lease_seconds=settings.notifications_send_lease_seconds,
        beneficiaries=BeneficiaryChannels(
            sms=sms,
            unsubscribe=tokens,
            sms_timeout=settings.notifications_sms_timeout_seconds,
            quiet_hours=QuietHours(
                settings.notifications_quiet_hours_start, settings.notifications_quiet_hours_end
            ),
            urgent_override=settings.notifications_quiet_hours_urgent,
            consent_wait=timedelta(seconds=settings.notifications_consent_wait_seconds),
        ),
        clock=clock,
        smtp_rate_per_second=settings.notifications_smtp_rate_per_second,
        sms_rate_per_second=settings.notifications_sms_rate_per_second,
        concurrency=settings.notifications_dispatch_concurrency,
    )
    runtime.background(dispatcher.run)
    webhooks, webhook_dispatcher = install_webhooks(runtime, settings, OrganisationSecrets(wrapper))

    app = runtime.http_app(
        title="Refuge notifications",
        version="0.1.0",
        description="SMS and e-mail to beneficiaries and staff; delivery receipts, STOP replies "
        "and unsubscribe links.",
    )
    app.include_router(inbound_router(lambda: runtime.pool, sms, tokens, phone_secret, clock))
    install_staff_routes(app, settings, lambda: runtime.pool)
    app.include_router(webhooks)
    app.state.runtime = runtime
    app.state.dispatcher = dispatcher
    app.state.webhook_dispatcher = webhook_dispatcher
    return app
