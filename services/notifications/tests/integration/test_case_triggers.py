"""Hearings, missed deadlines and the weekly digest through the running service: Kafka in,
PostgreSQL, the real SMTP and HTTP SMS sinks out."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from refuge_common.contract.cases import CaseHearingCancelled, CaseHearingRescheduled, CaseHearingScheduled
from refuge_common.contract.deadlines import DeadlineComputed, DeadlineMet, DeadlineMissed
from refuge_common.contract.directory import StaffRegistered
from refuge_common.crypto.sealing import seal
from refuge_common.db.pool import tenant_transaction
from refuge_common.presentation import case_reference
from refuge_notifications.adapters import organisation_config
from refuge_notifications.domain.rendering import format_instant
from refuge_notifications.domain.sms_length import Encoding, measure
from refuge_notifications.service_layer.weekly_digest import iso_week, plan_weekly_digests

if TYPE_CHECKING:
    from conftest import Notifications, Person

pytestmark = pytest.mark.integration
PARIS = ZoneInfo("Europe/Paris")
DEADLINES = "/refuge/deadlines"


async def _staff(n: Notifications, tenant: UUID, office: UUID | None, role: str) -> tuple[UUID, str]:
    staff_id = uuid.uuid4()
    address = f"{role}-{staff_id.hex[:8]}@ngo.test"
    connection = await asyncpg.connect(n.admin_dsn)
    try:
        key = await n.keyring.create(connection, staff_id, tenant)
    finally:
        await connection.close()
    await n.publish(
        tenant,
        StaffRegistered(
            staff_id=staff_id,
            organisation_id=tenant,
            office_id=office,
            role=role,
            preferred_language="fr",
            contact=seal(key, staff_id, {"name": "Camille", "email": address}),
        ),
    )
    await n.eventually(
        lambda: n.fetchval("SELECT true FROM notifications.staff_contacts WHERE staff_id = $1", staff_id)
    )
    return staff_id, address


def _at(n: Notifications, days: int, hour: int, minute: int = 0) -> datetime:
    local = (n.clock() + timedelta(days=days)).astimezone(PARIS)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


async def _sms_saying(n: Notifications, person: Person, text: str) -> str:
    async def probe() -> str | None:
        return next((m["body"] for m in n.sms_to(person.phone) if text in m["body"]), None)

    found: str = await n.eventually(probe)
    return found


async def test_the_beneficiary_is_told_of_a_hearing_its_new_date_and_its_cancellation(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    hearing_id = uuid.uuid4()
    first, second = _at(n, 5, 9, 30), _at(n, 12, 14, 0)
    scheduled = await n.publish(
        tenant,
        CaseHearingScheduled(
            case_id=person.case_id, hearing_id=hearing_id, scheduled_at=first, court="TA de Montreuil"
        ),
    )
    rows = await n.settled(scheduled[0], 2, {"sent"})
    assert {r["template"] for r in rows.values()} == {"beneficiary_hearing"}
    first_text = format_instant(first, "Europe/Paris", "fr")
    body = await _sms_saying(n, person, first_text)
    assert body.startswith("La Cimade : votre audience aura lieu le ") and "STOP" in body
    [mail] = await n.eventually(lambda: asyncio.sleep(0, result=n.mail_to(person.email) or None))
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert first_text in str(parsed["Subject"])
    text = parsed.get_body(("plain",))
    assert text is not None and "TA de Montreuil" in text.get_content()

    rescheduled = await n.publish(
        tenant,
        CaseHearingRescheduled(
            case_id=person.case_id, hearing_id=hearing_id, scheduled_at=second, previous_scheduled_at=first
        ),
    )
    await n.settled(rescheduled[0], 2, {"sent"})
    second_text = format_instant(second, "Europe/Paris", "fr")
    body = await _sms_saying(n, person, second_text)
    assert "votre audience change de date : elle aura lieu le" in body

    cancelled = await n.publish(tenant, CaseHearingCancelled(case_id=person.case_id, hearing_id=hearing_id))
    await n.settled(cancelled[0], 2, {"sent"})
    body = await _sms_saying(n, person, "annulée")
    assert f"votre audience du {second_text} est annulée" in body
    assert len(n.sms_to(person.phone)) == 3


async def test_an_arabic_hearing_sms_is_counted_as_ucs2_and_needs_consent(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, language="ar", email=None)
    when = _at(n, 6, 10, 0)
    [event_id] = await n.publish(
        tenant, CaseHearingScheduled(case_id=person.case_id, hearing_id=uuid.uuid4(), scheduled_at=when)
    )
    rows = await n.settled(event_id, 2, {"sent", "suppressed"})
    assert rows["beneficiary:email"]["status"] == "suppressed"
    assert rows["beneficiary:email"]["last_error"] == "no_consent"
    body = await _sms_saying(n, person, format_instant(when, "Europe/Paris", "ar"))
    length = measure(body)
    assert length.encoding is Encoding.UCS2 and length.segments <= 2 and "STOP" in body


async def test_a_message_overtaken_by_a_later_change_of_the_hearing_is_not_sent(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=None)
    night = _at(n, 1, 23, 0)
    n.clock.move_to(night)
    hearing_id = uuid.uuid4()
    first, second = _at(n, 5, 9, 0), _at(n, 9, 9, 0)
    [scheduled] = await n.publish(
        tenant, CaseHearingScheduled(case_id=person.case_id, hearing_id=hearing_id, scheduled_at=first)
    )
    [moved] = await n.publish(
        tenant,
        CaseHearingRescheduled(case_id=person.case_id, hearing_id=hearing_id, scheduled_at=second),
    )

    def deferred(row: dict[str, Any]) -> bool:
        return bool(row["status"] == "pending" and row["next_attempt_at"] > n.clock())

    async def both_held() -> bool:
        first_sms = (await n.deliveries(scheduled)).get("beneficiary:sms")
        moved_sms = (await n.deliveries(moved)).get("beneficiary:sms")
        if first_sms is None or moved_sms is None:
            return False
        # The first is held for the morning, or, if the change was applied before it was
        # composed, already refused as superseded: either way it never goes out.
        return deferred(moved_sms) and (
            deferred(first_sms)
            or (first_sms["status"] == "failed" and "superseded" in first_sms["last_error"])
        )

    await n.eventually(both_held)
    n.clock.move_to(night + timedelta(hours=9, minutes=1))
    old = (await n.settled(scheduled, 2, {"failed", "suppressed"}))["beneficiary:sms"]
    assert old["status"] == "failed" and "superseded" in old["last_error"]
    await n.settled(moved, 2, {"sent", "suppressed"})
    [body] = [m["body"] for m in n.sms_to(person.phone)]
    assert format_instant(second, "Europe/Paris", "fr") in body


async def test_a_missed_deadline_tells_the_caseworker_and_the_coordinators_at_once(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    caseworker, caseworker_mail = await _staff(n, tenant, office, "caseworker")
    coordinator, coordinator_mail = await _staff(n, tenant, office, "coordinator")
    head, head_mail = await _staff(n, tenant, None, "coordinator")  # organisation-wide
    other_office = uuid.uuid4()
    _elsewhere, elsewhere_mail = await _staff(n, tenant, other_office, "coordinator")
    person = await n.new_person(tenant, office)
    deadline_id, due = uuid.uuid4(), _at(n, -1, 23, 59)
    await n.publish(
        tenant,
        DeadlineComputed(
            deadline_id=deadline_id,
            case_id=person.case_id,
            office_id=office,
            purpose="appeal",
            rule="FR-L911-1",
            legal_basis="CESEDA L.911-1",
            due=due,
            timezone="Europe/Paris",
            caseworker_id=caseworker,
        ),
        source=DEADLINES,
    )
    [missed] = await n.publish(
        tenant, DeadlineMissed(deadline_id=deadline_id, case_id=person.case_id, due=due), source=DEADLINES
    )

    async def all_sent() -> list[dict[str, Any]] | None:
        rows = await n.fetch("SELECT * FROM notifications.deliveries WHERE trigger_event_id = $1", missed)
        return rows if len(rows) == 3 and all(r["status"] == "sent" for r in rows) else None

    rows = await n.eventually(all_sent)
    assert {(r["recipient_kind"], r["recipient_id"]) for r in rows} == {
        ("caseworker", caseworker),
        ("coordinator", coordinator),
        ("coordinator", head),
    }
    for address in (caseworker_mail, coordinator_mail, head_mail):
        [mail] = await n.eventually(lambda a=address: asyncio.sleep(0, result=n.mail_to(a) or None))
        parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
        assert "Délai dépassé : appeal" in str(parsed["Subject"])
        assert case_reference(person.case_id) in str(parsed["Subject"])
    assert n.mail_to(elsewhere_mail) == []
    assert n.sms_to(person.phone) == []  # the beneficiary is not told by default
    state = await n.fetchval(
        "SELECT state FROM notifications.office_deadlines WHERE deadline_id = $1", deadline_id
    )
    assert state == "missed"


async def test_the_weekly_digest_lists_the_offices_open_deadlines_once_per_week(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    soon, later, met = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events: list[Any] = [
        DeadlineComputed(
            deadline_id=deadline_id,
            case_id=person.case_id,
            office_id=office,
            purpose=purpose,
            rule="FR-L911-1",
            legal_basis="CESEDA L.911-1",
            due=_at(n, days, 23, 59),
            timezone="Europe/Paris",
        )
        for deadline_id, purpose, days in (
            (later, "appeal", 9),
            (soon, "legal_aid_request", 3),
            (met, "appeal", 4),
        )
    ]
    ids = await n.publish(
        tenant,
        *events,
        DeadlineMet(deadline_id=met, case_id=person.case_id, met_at=n.clock()),
        source=DEADLINES,
    )
    await n.applied(*ids)
    # Only an office with a caseworker gets a digest: from here on, this one does.
    caseworker, caseworker_mail = await _staff(n, tenant, office, "caseworker")

    async def digest() -> dict[str, Any] | None:
        rows = await n.fetch(
            "SELECT * FROM notifications.deliveries"
            " WHERE recipient_id = $1 AND template = 'caseworker_digest'",
            caseworker,
        )
        return rows[0] if rows and rows[0]["status"] == "sent" else None

    row = await n.eventually(digest)
    week = iso_week(n.clock().astimezone(PARIS))
    assert row["trigger_event_id"] == week
    [mail] = n.mail_to(caseworker_mail)
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert week in str(parsed["Subject"])
    text = parsed.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert body.index("legal_aid_request") < body.index("appeal")  # earliest first
    assert body.count(case_reference(person.case_id)) == 2  # the met deadline is not listed

    # Planning again this week (another run, another replica) plans nothing for this office.
    runtime = n.app.state.runtime
    await plan_weekly_digests(runtime.pool, n.clock(), horizon_days=14, send_hour=7)
    count = await n.fetchval(
        "SELECT count(*) FROM notifications.deliveries WHERE recipient_id = $1", caseworker
    )
    assert count == 1


async def test_an_organisation_can_turn_hearing_sms_off(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    async with tenant_transaction(n.app.state.runtime.pool, tenant) as connection:
        await organisation_config.set_policy(
            connection, tenant, "case.hearing_scheduled", "beneficiary", "sms", False
        )
    [event_id] = await n.publish(
        tenant,
        CaseHearingScheduled(case_id=person.case_id, hearing_id=uuid.uuid4(), scheduled_at=_at(n, 5, 9, 0)),
    )
    rows = await n.settled(event_id, 1, {"sent"})
    assert list(rows) == ["beneficiary:email"]
    assert n.sms_to(person.phone) == []
