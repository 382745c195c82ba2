"""From what a ServiceRuntime holds to its AsyncAPI document."""

from __future__ import annotations

from collections.abc import Sequence

from refuge_common.contract.base import REGISTRY
from refuge_common.messaging.consumer import EventConsumer
from refuge_common.specification.asyncapi import ServiceInfo, build_document
from refuge_common.specification.declarations import Channel
from refuge_common.specification.rendering import AsyncAPIDocument


def consumed(consumer: EventConsumer, topic: str) -> Channel:
    """The event types ``consumer`` applies from ``topic``, in the order they were registered."""

    # EventConsumer keeps its handlers by type and has no accessor for them; reading the
    # registry here keeps documentation out of the consumer's interface.
    handled = consumer._handlers
    events = tuple(REGISTRY[type_] for type_ in handled if topic == REGISTRY[type_].TOPIC)
    return Channel(topic, events, reader=consumer.name, group=consumer.name)


def service_document(
    service: ServiceInfo,
    bootstrap_servers: str,
    subscriptions: Sequence[tuple[EventConsumer, str]],
    declared: Sequence[Channel],
) -> AsyncAPIDocument:
    channels = [consumed(consumer, topic) for consumer, topic in subscriptions] + list(declared)
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    return AsyncAPIDocument(build_document(service, servers, channels))
