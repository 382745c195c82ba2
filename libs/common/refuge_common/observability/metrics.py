"""Prometheus metrics every service exposes. No label ever carries a person or case id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "refuge_messages_consumed_total",
    "Events taken from Kafka, by consumer, topic and outcome (applied, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "outcome"],
)
MESSAGE_FAILURES = Counter(
    "refuge_message_failures_total",
    "Failed attempts at applying an event (each retry counts).",
    ["consumer", "topic"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "refuge_messages_dead_lettered_total",
    "Events sent to the dead-letter topic, by consumer and origin topic.",
    ["consumer", "topic"],
)
PROCESSING_SECONDS = Histogram(
    "refuge_message_processing_seconds",
    "Time to apply one event, retries included.",
    ["consumer", "topic"],
)
MESSAGES_PUBLISHED = Counter(
    "refuge_messages_published_total", "Records acknowledged by Kafka, by topic.", ["topic"]
)
OUTBOX_BACKLOG = Gauge("refuge_outbox_backlog", "Outbox rows waiting to be published.")
OUTBOX_OLDEST_AGE = Gauge("refuge_outbox_oldest_age_seconds", "Age of the oldest row waiting in the outbox.")
HTTP_REQUESTS = Counter(
    "refuge_http_requests_total",
    "HTTP requests, by method, route and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "refuge_http_request_duration_seconds",
    "HTTP request duration, by method and route.",
    ["method", "route"],
)
