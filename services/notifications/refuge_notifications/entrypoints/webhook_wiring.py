"""Webhooks' part of notifications' composition root (called by ``bootstrap.build_app``).

One consumer group per topic that carries offered event types
(``refuge.notifications.webhooks-<topic>``, apart from the service's own groups so that a
slow receiver or a new endpoint never holds up reminders), the delivery loop, and the
org admins' HTTP routes.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from refuge_common.auth.principal import Role
from refuge_common.auth.verification import TokenVerifier, principal_dependency
from refuge_common.contract.base import REGISTRY
from refuge_common.messaging.retry import RetryPolicy
from refuge_common.runtime import ServiceRuntime
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.webhook_attempts import AttemptPolicy
from refuge_notifications.domain.webhook_endpoints import offered_event_types
from refuge_notifications.entrypoints.http_webhooks import webhooks_router
from refuge_notifications.entrypoints.webhook_dispatcher import WebhookDispatcher
from refuge_notifications.service_layer.webhook_endpoints import WebhookEndpoints
from refuge_notifications.service_layer.webhook_fanout import fan_out
from refuge_notifications.settings import NotificationsSettings


def attempt_policy(settings: NotificationsSettings) -> AttemptPolicy:
    return AttemptPolicy(
        max_attempts=settings.notifications_webhook_max_attempts,
        backoff=RetryPolicy(
            max_attempts=settings.notifications_webhook_max_attempts,
            initial_delay=settings.notifications_webhook_backoff_initial_seconds,
            max_delay=settings.notifications_webhook_backoff_max_seconds,
        ),
        disable_after_failures=settings.notifications_webhook_disable_after_failures,
        disable_after=timedelta(seconds=settings.notifications_webhook_disable_after_seconds),
    )


def install_webhooks(
    runtime: ServiceRuntime, settings: NotificationsSettings, sealer: OrganisationSecrets
) -> tuple[APIRouter, WebhookDispatcher]:
    """Register the consumers and the loop on ``runtime``; the router for the app."""

    by_topic: dict[str, list[str]] = {}
    for event_type, topic in offered_event_types().items():
        by_topic.setdefault(topic, []).append(event_type)
    for topic, types in sorted(by_topic.items()):
        consumer = runtime.consumer(f"webhooks-{topic.split('.')[1]}")
        consumer.on(*(REGISTRY[t] for t in types))(fan_out)
        runtime.subscribe(consumer, topic)

    endpoints = WebhookEndpoints(
        lambda: runtime.pool, sealer, allow_http_loopback=settings.notifications_webhook_allow_http_loopback
    )
    dispatcher = WebhookDispatcher(
        lambda: runtime.pool,
        endpoints,
        attempt_policy(settings),
        timeout=settings.notifications_webhook_timeout_seconds,
        lease_margin=settings.notifications_send_lease_seconds,
        allow_loopback=settings.notifications_webhook_allow_http_loopback,
    )
    runtime.background(dispatcher.run)
    admins = principal_dependency(TokenVerifier(settings.jwks_url), Role.ORG_ADMIN)
    return webhooks_router(endpoints, admins), dispatcher
