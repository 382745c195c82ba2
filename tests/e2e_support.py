"""Helpers for end-to-end tests: waiting, reading topics, and an independent date oracle."""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import holidays
from aiokafka import AIOKafkaConsumer

T = TypeVar("T")

FRENCH_MONTHS = [
    "",
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def wait_until(probe: Callable[[], T], *, timeout: float = 60.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def read_topic(bootstrap: str, topic: str, *, timeout: float = 5.0) -> list[Any]:
    """Every record of a topic, from the beginning (no consumer group)."""

    async def main() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            records: list[Any] = []
            idle_until = time.monotonic() + timeout
            while time.monotonic() < idle_until:
                batch = await consumer.getmany(timeout_ms=500)
                for partition_records in batch.values():
                    records.extend(partition_records)
                if batch:
                    idle_until = time.monotonic() + 1.0
            return records
        finally:
            await consumer.stop()

    return asyncio.run(main())


def recent_notification_date(today: date) -> date:
    """A recent past day whose month-end readings agree (day of month <= 27)."""

    candidate = today - timedelta(days=2)
    while candidate.day > 27:
        candidate -= timedelta(days=1)
    return candidate


def l911_1_last_day(notified: date) -> date:
    """CESEDA L.911-1, worked by hand: one month franc from the day after notification,
    ending on the same day of the month, moved past weekends and French public holidays."""

    first = notified + timedelta(days=1)
    year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
    last = date(year, month, min(first.day, calendar.monthrange(year, month)[1]))
    public_holidays = holidays.France(years=[last.year, last.year + 1])
    while last.weekday() >= 5 or last in public_holidays:
        last += timedelta(days=1)
    return last
