"""Deadlines recomputed from the facts of a case, against the real broker and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from refuge_common.contract import cases
from refuge_common.contract.directory import OfficeOpened

pytestmark = pytest.mark.integration


async def test_a_rescheduled_hearing_updates_its_deadline_and_its_reminders(deadlines: Any) -> None:
    tenant, case = await deadlines.new_case()
    hearing = uuid.uuid4()
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    await deadlines.publish(
        tenant, cases.CaseHearingScheduled(case_id=case, hearing_id=hearing, scheduled_at=first)
    )
    await deadlines.publish(
        tenant,
        cases.CaseHearingRescheduled(
            case_id=case, hearing_id=hearing, scheduled_at=first + timedelta(days=7)
        ),
    )
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "updated"]
    assert events[0][1]["deadline_id"] == events[1][1]["deadline_id"]
    assert datetime.fromisoformat(events[1][1]["due"]) == first + timedelta(days=7)
    assert datetime.fromisoformat(events[1][1]["previous_due"]) == first
    timers = await deadlines.rows(
        tenant,
        "SELECT status, remind_at FROM reminders WHERE deadline_id = $1",
        UUID(events[0][1]["deadline_id"]),
    )
    pending = [t["remind_at"] for t in timers if t["status"] == "pending"]
    assert pending and all(t <= first + timedelta(days=7) for t in pending)
    assert all(t["status"] == "cancelled" for t in timers if t["remind_at"] not in pending)
    assert any(t["status"] == "cancelled" for t in timers)


async def test_a_detention_during_an_open_oqtf_window_starts_the_48_hour_window(deadlines: Any) -> None:
    tenant, case = await deadlines.new_case()
    notified = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    detained = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    await deadlines.publish(
        tenant,
        cases.CaseDecisionNotified(
            case_id=case, jurisdiction="FR", decision="oqtf", regime="ordinary", notified_at=notified
        ),
    )
    await deadlines.publish(
        tenant, cases.CaseDetentionStarted(case_id=case, started_at=detained, kind="administrative")
    )
    events = await deadlines.wait_events(tenant, 3)
    kinds = {kind: data for kind, data in events}
    assert [kind for kind, _ in events].count("computed") == 2
    cancelled = kinds["cancelled"]
    assert cancelled["reason"] == "superseded"
    replacement = next(
        d for k, d in events if k == "computed" and d["deadline_id"] == cancelled["superseded_by"]
    )
    assert datetime.fromisoformat(replacement["due"]) == detained + timedelta(hours=48)
    assert "L.921-2" in replacement["legal_basis"] or "921-2" in replacement["rule"]


async def test_an_appeal_filed_in_time_meets_the_deadline_and_silences_its_reminders(deadlines: Any) -> None:
    tenant, case = await deadlines.new_case()
    notified = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    await deadlines.publish(
        tenant,
        cases.CaseDecisionNotified(
            case_id=case, jurisdiction="FR", decision="oqtf", regime="ordinary", notified_at=notified
        ),
    )
    await deadlines.publish(tenant, cases.CaseAppealFiled(case_id=case, filed_at=datetime.now(UTC)))
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "met"]
    timers = await deadlines.rows(
        tenant, "SELECT status FROM reminders WHERE deadline_id = $1", UUID(events[0][1]["deadline_id"])
    )
    assert timers and all(t["status"] in ("cancelled", "fired") for t in timers)
    assert [t["status"] for t in timers].count("pending") == 0


async def test_a_deadline_that_passes_without_an_appeal_is_missed_once(deadlines: Any) -> None:
    tenant, case = await deadlines.new_case()
    # Notified 40 days ago: the month franc has run out; the engine still computes it
    # and the expiry timer, already due, marks it missed.
    notified = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    await deadlines.publish(
        tenant,
        cases.CaseDecisionNotified(
            case_id=case, jurisdiction="FR", decision="oqtf", regime="ordinary", notified_at=notified
        ),
    )
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "missed"]
    await deadlines.publish(tenant, cases.CaseAppealFiled(case_id=case, filed_at=datetime.now(UTC)))
    stored = await deadlines.eventually(
        lambda: deadlines.rows(
            tenant,
            "SELECT d.status FROM deadlines d JOIN case_facts f ON f.case_id = d.case_id "
            "WHERE d.case_id = $1 AND f.kind = 'appeal_filed'",
            case,
        )
    )
    assert {row["status"] for row in stored} == {"missed"}


async def test_closing_a_case_cancels_its_open_deadlines(deadlines: Any) -> None:
    tenant, case = await deadlines.new_case()
    await deadlines.publish(
        tenant,
        cases.CaseDecisionNotified(
            case_id=case,
            jurisdiction="FR",
            decision="oqtf",
            regime="ordinary",
            notified_at=datetime.now(UTC) - timedelta(days=1),
        ),
    )
    await deadlines.publish(
        tenant, cases.CaseClosed(case_id=case, outcome="withdrawn", closed_at=datetime.now(UTC))
    )
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "cancelled"]
    assert events[1][1]["reason"] == "case_closed"


async def _transfer_to_cayenne(deadlines: Any, *, office_known_first: bool) -> None:
    tenant, case = await deadlines.new_case()
    cayenne = uuid.uuid4()
    office = OfficeOpened(
        office_id=cayenne,
        organisation_id=tenant,
        name="Cayenne",
        kind="drop_in_clinic",
        timezone="America/Cayenne",
        jurisdiction="FR-973",
    )
    if office_known_first:
        await deadlines.publish(tenant, office)
    hearing_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=15)
    await deadlines.publish(
        tenant, cases.CaseHearingScheduled(case_id=case, hearing_id=uuid.uuid4(), scheduled_at=hearing_at)
    )
    await deadlines.publish(tenant, cases.CaseTransferred(case_id=case, office_id=cayenne))
    if not office_known_first:
        await deadlines.publish(tenant, office)

    async def shown_in_cayenne() -> list[tuple[str, dict[str, Any]]] | None:
        events = [e for e in await deadlines.events(tenant) if e[0] != "due"]
        return events if events and events[-1][1].get("timezone") == "America/Cayenne" else None

    events = await deadlines.eventually(shown_in_cayenne)
    assert events[0][0] == "computed" and events[0][1]["timezone"] == "Europe/Paris"
    # The directory and the case facts travel on different topics: the transfer may be applied
    # before the office is known (an update for the office, another for its zone) or after;
    # whatever the order, every step is an update of the same deadline at the same instant.
    assert {kind for kind, _ in events[1:]} == {"updated"}
    assert {e["deadline_id"] for _, e in events} == {events[0][1]["deadline_id"]}
    assert {datetime.fromisoformat(e["due"]) for _, e in events} == {hearing_at}
    last = events[-1][1]
    assert last["office_id"] == str(cayenne)
    assert datetime.fromisoformat(last["due"]) == hearing_at  # the same instant, shown in Cayenne
    assert datetime.fromisoformat(last["due"]).utcoffset() == timedelta(hours=-3)


async def test_a_transfer_to_an_office_in_another_zone_moves_the_hearing_there(deadlines: Any) -> None:
    await _transfer_to_cayenne(deadlines, office_known_first=True)


async def test_an_office_announced_after_the_transfer_still_moves_the_hearing_there(deadlines: Any) -> None:
    await _transfer_to_cayenne(deadlines, office_known_first=False)
