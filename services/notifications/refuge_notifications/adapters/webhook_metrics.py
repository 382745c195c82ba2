"""Webhook metrics. Labels are bounded sets: no endpoint URL, no organisation, no event id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WEBHOOK_DELIVERIES = Counter(
    "refuge_webhook_deliveries",
    "Webhook POST attempts by outcome: delivered (2xx), retrying (will be tried again), failed (given up).",
    ["outcome"],
)
WEBHOOK_PENDING = Gauge(
    "refuge_webhook_deliveries_pending", "Webhook deliveries waiting for an attempt (all organisations)."
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "refuge_webhook_endpoints_disabled",
    "Endpoints disabled by the delivery loop, by reason (consecutive_failures, failing_too_long, gone).",
    ["reason"],
)
