"""A consent read after the reminder it governs: the message waits for it (a bounded time),
then goes out if it was given, or is suppressed if it was refused or never came.

Consents travel on refuge.cases.v1 and reminders on refuge.deadlines.v1, read by two
consumers; one catching up (after a restart, behind a backlog) is read minutes late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

if TYPE_CHECKING:
    from conftest import Notifications, Person

pytestmark = pytest.mark.integration
CONSENT_WAIT_SECONDS = 60  # read by the notifications fixture
# The person lives where it is daytime now: the wait is measured on the real clock here, so
# the test clock is not moved to a daytime, and quiet hours must not hold the SMS back.
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata")


def _daytime_zone() -> str:
    now = datetime.now(UTC)
    return next(zone for zone in ZONES if 9 <= now.astimezone(ZoneInfo(zone)).hour < 18)


async def _reminded(n: Notifications, *, sms: bool | None) -> tuple[UUID, Person, str]:
    """A person of a new organisation, without an e-mail consent yet, reminded."""

    n.clock.offset = timedelta(0)  # the wait is measured from when the rows were planned
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, sms=sms, email=None, timezone=_daytime_zone())
    return tenant, person, await n.remind(person)


async def _waiting(n: Notifications, trigger: str, channels: set[str]) -> dict[str, dict[str, Any]]:
    """The rows of ``channels`` once the dispatcher has looked at them and put them back to
    wait for their consent (pending, untried, due again later than planned)."""

    async def probe() -> dict[str, dict[str, Any]] | None:
        rows = {
            k.split(":")[1]: r
            for k, r in (await n.deliveries(trigger)).items()
            if k.startswith("beneficiary:")
        }
        waiting = {
            channel
            for channel, r in rows.items()
            if r["status"] == "pending" and r["attempts"] == 0 and r["next_attempt_at"] > r["created_at"]
        }
        return rows if waiting == channels else None

    return await n.eventually(probe)


async def test_a_consent_read_after_the_reminder_still_lets_its_message_go(
    notifications: Notifications,
) -> None:
    """The SMS consent was read in time, the e-mail one was not: the SMS goes at once, the
    e-mail waits for its consent and goes once it is read."""

    n = notifications
    _tenant, person, trigger = await _reminded(n, sms=True)
    await _waiting(n, trigger, {"email"})

    async def texted() -> bool:
        return bool(n.sms_to(person.phone))

    await n.eventually(texted)
    assert n.mail_to(person.email) == []

    await n.record_consent(person, "email", True, datetime.now(UTC))

    rows = await n.settled(trigger, 2, {"sent"})
    assert rows["beneficiary:email"]["last_error"] is None  # waiting was neither a failure nor a reason
    assert len(n.mail_to(person.email)) == 1 and len(n.sms_to(person.phone)) == 1


async def test_a_consent_refused_after_the_reminder_stops_its_message(notifications: Notifications) -> None:
    n = notifications
    _tenant, person, trigger = await _reminded(n, sms=None)
    await _waiting(n, trigger, {"sms", "email"})

    await n.record_consent(person, "email", True, datetime.now(UTC))
    await n.record_consent(person, "sms", False, datetime.now(UTC))

    rows = await n.settled(trigger, 2, {"sent", "suppressed"})
    assert (rows["beneficiary:email"]["status"], rows["beneficiary:sms"]["last_error"]) == (
        "sent",
        "opted_out",
    )
    assert len(n.mail_to(person.email)) == 1 and n.sms_to(person.phone) == []


async def test_a_consent_that_never_comes_suppresses_the_message_once_the_wait_is_over(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, person, trigger = await _reminded(n, sms=None)
    await _waiting(n, trigger, {"sms", "email"})
    assert await n.events(tenant) == []  # waiting is not an outcome: nothing reported yet

    n.clock.offset += timedelta(seconds=CONSENT_WAIT_SECONDS)

    rows = await n.settled(trigger, 2, {"suppressed"})
    assert {key: row["last_error"] for key, row in rows.items()} == {
        "beneficiary:sms": "no_consent",
        "beneficiary:email": "no_consent",
    }
    events = await n.wait_events(tenant, lambda found: len(found) >= 2)
    assert sorted((name, data["channel"], data["reason"]) for name, data in events) == [
        ("suppressed", "email", "no_consent"),
        ("suppressed", "sms", "no_consent"),
    ]
    assert n.sms_to(person.phone) == [] and n.mail_to(person.email) == []
