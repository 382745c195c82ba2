"""Replayed or duplicated events change nothing; a rebuild gives the live figures again."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from replicas_support import dead_letters
from reporting_year import Reporting, Year

from refuge_common.auth.principal import Role
from refuge_common.contract import topics
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event, to_record
from refuge_devstack.testing import eventually

pytestmark = pytest.mark.integration

QUERIES: list[tuple[str, list[str]]] = [
    ("persons", ["office", "gender"]),
    ("persons", ["nationality", "age_band"]),
    ("cases_opened", ["case_type", "opened_month"]),
    ("cases_closed", ["outcome", "closed_month"]),
    ("contacts", ["channel", "outcome"]),
    ("persons_detained", ["gender"]),
    ("detention_placements", ["office"]),
    ("deadlines_computed", ["purpose"]),
    ("deadlines_met", ["office"]),
    ("deadlines_missed", ["office"]),
    ("notifications", ["status", "reason"]),
]


async def snapshot(reporting: Reporting, year: Year) -> dict[str, Any]:
    found = {}
    for org in (year.a, year.b):
        token = reporting.token(org, Role.COORDINATOR)
        for measure, group_by in QUERIES:
            body = await reporting.get(
                f"/figures/{measure}", token, group_by=group_by, compare="true", start="2026-01-01T00:00:00Z"
            )
            found[f"{org.tenant} {measure} {group_by}"] = sorted(
                json.dumps(r, sort_keys=True) for r in body["rows"]
            )
    return found


async def caught_up_after(reporting: Reporting, applied_before: int, more: int) -> None:
    async def probe() -> bool:
        live = reporting.app.state.projections.live
        return bool(live and live.progress.caught_up and live.progress.events_done >= applied_before + more)

    await eventually(probe, within=60)


def events_done(reporting: Reporting) -> int:
    return int(reporting.app.state.projections.live.progress.events_done)


async def test_duplicated_events_change_nothing(reporting: Reporting, year: Year) -> None:
    before = await snapshot(reporting, year)
    done = events_done(reporting)
    await reporting.publish(year.envelopes)  # every event again, same source and id
    await caught_up_after(reporting, done, len(year.envelopes))
    assert await snapshot(reporting, year) == before


async def test_a_rebuild_gives_the_live_figures_and_the_live_projection_goes_on(
    reporting: Reporting, year: Year, reporting_database: str
) -> None:
    before = await snapshot(reporting, year)
    operator = reporting.token(year.a, Role.OPERATOR)
    started = await reporting.client.post("/operator/rebuild", headers=operator)
    assert started.status_code == 202, started.text
    again = await reporting.client.post("/operator/rebuild", headers=operator)
    assert again.status_code in (409, 202)  # 202 only if the first one already finished

    async def swapped() -> dict[str, Any] | None:
        status = await reporting.get("/operator/rebuild", operator)
        assert status["state"] != "failed", status
        return status if status["state"] == "swapped" else None

    status = await eventually(swapped, within=120)
    assert status["generation"] == started.json()["generation"] > 1
    assert status["processes"] == 2  # the default: each worker process projected its share
    assert status["events_done"] >= status["events_total"] >= 2 * len(year.envelopes)
    # where the rebuild's time went, for an operator: broker, decoding, database
    assert set(status["seconds"]) == {"reading", "decoding", "waiting_for_database"}
    assert status["seconds"]["decoding"] > 0 and min(status["seconds"].values()) >= 0
    assert await snapshot(reporting, year) == before

    connection = await asyncpg.connect(reporting_database)
    try:
        states = dict(await connection.fetch("SELECT generation, state FROM reporting.generations"))

        async def old_partitions_dropped() -> bool:
            return not await connection.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'reporting' AND tablename LIKE 'cases_g%'"
                " AND tablename <> $1",
                f"cases_g{status['generation']}",
            )

        await eventually(old_partitions_dropped, within=30)
    finally:
        await connection.close()
    assert states[status["generation"]] == "current" and list(states.values()).count("current") == 1

    # The live projection resumes on the new generation.
    coordinator = reporting.token(year.b, Role.COORDINATOR)
    count = (await reporting.get("/figures/cases_opened", coordinator))["rows"][-1]["value"]
    await reporting.publish(
        [
            new_event(
                "/refuge/intake",
                CaseOpened(
                    case_id=uuid.uuid4(),
                    organisation_id=year.b.tenant,
                    office_id=year.b.offices[0],
                    case_type="asylum",
                    jurisdiction="FR",
                    channel="phone",
                    opened_at=datetime(2026, 11, 1, tzinfo=UTC),
                ),
                year.b.tenant,
            )
        ]
    )

    async def counted() -> bool:
        body = await reporting.get("/figures/cases_opened", coordinator)
        return bool(body["rows"][-1]["value"] == count + 1)

    await eventually(counted, within=30)


async def test_a_malformed_event_is_dead_lettered_and_the_next_one_applied(
    reporting: Reporting, year: Year, kafka_bootstrap_servers: str
) -> None:
    good = new_event(
        "/refuge/intake",
        CaseOpened(
            case_id=uuid.uuid4(),
            organisation_id=year.b.tenant,
            office_id=year.b.offices[0],
            case_type="asylum",
            jurisdiction="FR",
            channel="phone",
            opened_at=datetime(2026, 11, 2, tzinfo=UTC),
        ),
        year.b.tenant,
    )
    bad = to_record(good)
    value = json.dumps({**json.loads(bad.value), "case_type": "nonsense"}).encode()
    bad_id = f"bad-{uuid.uuid4()}"
    headers = [(n, bad_id.encode() if n == "ce_id" else v) for n, v in bad.headers]
    await reporting.producer.send_in_order([type(bad)(bad.topic, bad.key, value, headers)])
    await reporting.publish([good])
    coordinator = reporting.token(year.b, Role.COORDINATOR)

    async def good_counted() -> bool:
        body = await reporting.get("/figures/cases_opened", coordinator, start="2026-11-02T00:00:00Z")
        return bool(body["rows"][-1]["value"] >= 1)

    await eventually(good_counted, within=30)
    letters = await dead_letters(kafka_bootstrap_servers)
    (letter,) = [x for x in letters if dict(x.headers).get("ce_id") == bad_id.encode()]
    assert letter.consumer == "refuge.reporting.projector"
    assert letter.origin_topic == topics.CASES and "case_type" in letter.error
    assert b"nonsense" not in letter.error.encode()
