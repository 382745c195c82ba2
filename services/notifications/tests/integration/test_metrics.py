"""The metrics the operators' dashboard reads, on /metrics: final states counted once, open rows
(the queue) sampled by the dispatcher, and no label that names a person, a case or an
organisation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from conftest import Notifications

pytestmark = pytest.mark.integration
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _samples(n: Notifications) -> dict[tuple[str, str, str], float]:
    response = await n.http.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in ("refuge_notifications_total", "refuge_notification_deliveries"):
                assert set(sample.labels) == {"channel", "state"}
                found[(sample.name, sample.labels["channel"], sample.labels["state"])] = sample.value
    return found


async def test_sent_and_suppressed_messages_are_counted_and_rows_sampled(
    notifications: Notifications,
) -> None:
    n = notifications
    before = await _samples(n)
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=False)
    trigger = await n.remind(person)
    await n.settled(trigger, 2, {"sent", "suppressed"})

    after = await _samples(n)
    sent = ("refuge_notifications_total", "sms", "sent")
    suppressed = ("refuge_notifications_total", "email", "suppressed")
    assert after[sent] - before.get(sent, 0) == 1
    assert after[suppressed] - before.get(suppressed, 0) == 1

    text = (await n.http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("refuge_notification"):
            assert not UUID_PATTERN.search(line), line


async def test_the_deliveries_gauge_shows_the_queue_and_no_final_state(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=False)
    night = (n.clock() + timedelta(days=1)).astimezone(ZoneInfo("Europe/Paris")).replace(hour=23, minute=0)
    n.clock.move_to(night)
    trigger = await n.remind(person)  # the SMS waits for the morning: pending
    pending = ("refuge_notification_deliveries", "sms", "pending")

    async def queued() -> dict[tuple[str, str, str], float] | None:
        samples = await _samples(n)
        return samples if samples.get(pending, 0) >= 1 else None

    samples = await n.eventually(queued)
    gauge_states = {state for name, _, state in samples if name == "refuge_notification_deliveries"}
    assert gauge_states == {"pending", "claimed", "sending"}

    n.clock.move_to((night + timedelta(days=1)).replace(hour=8, minute=1))
    await n.settled(trigger, 2, {"sent", "suppressed"})
    assert len(n.sms_to(person.phone)) == 1
