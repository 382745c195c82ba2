"""Prometheus metrics of the durable timers: how many wait, how many fired, how late.

No label carries a case, deadline or tenant: ``kind`` is the timer kind (reminder or
expiry), a fixed set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import asyncpg
from prometheus_client import Counter as CounterMetric
from prometheus_client import Gauge, Histogram

from refuge_common.db.pool import Connection

REMINDERS_DUE = Gauge(
    "refuge_reminders_due", "Pending timers whose time has come and that have not fired yet."
)
REMINDERS_FIRED = CounterMetric("refuge_reminders_fired_total", "Timers fired, by kind.", ["kind"])
REMINDER_FIRE_LAG = Histogram(
    "refuge_reminder_fire_lag_seconds",
    "Time from a timer's due instant to the commit that fired it.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)

COUNT_DUE = "SELECT count(*) FROM reminders WHERE status = 'pending' AND remind_at <= now()"


def observe_fired(fired: Iterable[asyncpg.Record], committed_at: datetime) -> None:
    kinds: Counter[str] = Counter()  # one labelled increment per kind and batch, not per timer
    for row in fired:
        kinds[row["kind"]] += 1
        REMINDER_FIRE_LAG.observe(max(0.0, (committed_at - row["remind_at"]).total_seconds()))
    for kind, count in kinds.items():
        REMINDERS_FIRED.labels(kind=kind).inc(count)


async def sample_due(connection: Connection) -> None:
    REMINDERS_DUE.set(await connection.fetchval(COUNT_DUE))
