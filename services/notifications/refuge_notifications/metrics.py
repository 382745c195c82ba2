"""Notifications' Prometheus metrics (served on /metrics with the platform's). The labels are
the channel and the state only: never a person, a case, an organisation or a provider id.

- ``refuge_notifications_total{channel,state}``: messages that reached a final state, counted
  once when it is recorded: sent, failed, unknown, suppressed, and delivered (the provider's
  receipt). A quiet-hours deferral is not final and is not counted.
- ``refuge_notification_deliveries{channel,state}``: open delivery-log rows (pending,
  claimed, sending) now, sampled by the dispatcher loop: the queue, and what is in flight.
  Rows in final states are what the counter above counts; counting them in the log would
  read every row ever sent, every few seconds, for ever longer.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CHANNELS = ("sms", "email")
FINAL_STATES = ("sent", "failed", "unknown", "suppressed", "delivered")
OPEN_STATES = ("pending", "claimed", "sending")

NOTIFICATIONS = Counter(
    "refuge_notifications",
    "Notifications that reached a final state, by channel and state",
    ["channel", "state"],
)
DELIVERIES = Gauge(
    "refuge_notification_deliveries",
    "Open delivery-log rows (pending, claimed, sending) by channel and state, sampled by the dispatcher",
    ["channel", "state"],
)


def count_final(channel: str, state: str, amount: int = 1) -> None:
    if state in FINAL_STATES and channel in CHANNELS and amount:
        NOTIFICATIONS.labels(channel, state).inc(amount)


def sample_rows(counts: dict[tuple[str, str], int]) -> None:
    """Set the gauge from (channel, open state) -> rows; a state with none reads 0."""

    for channel in CHANNELS:
        for state in OPEN_STATES:
            DELIVERIES.labels(channel, state).set(counts.get((channel, state), 0))
