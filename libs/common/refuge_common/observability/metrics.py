"""Prometheus metrics every service exposes. No label ever carries a person or case id.

Label values are bounded sets: consumer groups, topics, contract event types, outcomes,
HTTP route templates. ``event_type`` is the CloudEvents ``type`` of a contract event this
build knows, or one of :data:`UNKNOWN_TYPE` / :data:`MALFORMED` (a type from a newer contract
or a record that is no event at all could carry any string, so it is never used as a label).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UNKNOWN_TYPE = "unknown"
MALFORMED = "malformed"

MESSAGES_CONSUMED = Counter(
    "refuge_messages_consumed_total",
    "Events taken from Kafka, by consumer, topic, event type and outcome "
    "(applied, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "event_type", "outcome"],
)
MESSAGE_FAILURES = Counter(
    "refuge_message_failures_total",
    "Failed attempts at applying an event (each retry counts), by consumer, topic and event type.",
    ["consumer", "topic", "event_type"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "refuge_messages_dead_lettered_total",
    "Events sent to the dead-letter topic, by consumer, origin topic and event type.",
    ["consumer", "topic", "event_type"],
)
PROCESSING_SECONDS = Histogram(
    "refuge_message_processing_seconds",
    "Time to apply one event, retries included, by consumer, topic and event type.",
    ["consumer", "topic", "event_type"],
)
MESSAGES_PUBLISHED = Counter(
    "refuge_messages_published_total", "Records acknowledged by Kafka, by topic.", ["topic"]
)
OUTBOX_BACKLOG = Gauge("refuge_outbox_backlog", "Outbox rows waiting to be published.")
OUTBOX_OLDEST_AGE = Gauge("refuge_outbox_oldest_age_seconds", "Age of the oldest row waiting in the outbox.")
CONSUMER_LAG = Gauge(
    "refuge_consumer_lag",
    "Records on a topic not yet committed by a consumer group (set by the service that samples "
    "the broker: reporting's stream page).",
    ["group", "topic"],
)
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
