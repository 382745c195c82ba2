"""What the skeleton benchmark needs around the running stack: a timed SMTP sink,
onboarding through intake's command line, the services' environment, and the
services' own timestamps of each step of a decision's way to an e-mail."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from refuge_devstack.mail_sink import MailSink
from refuge_devstack.stack import ensure_secrets


class TimedMailSink(MailSink):
    """The devstack's SMTP sink, also stamping each arrival with perf_counter."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self.arrivals: list[tuple[float, datetime, str]] = []
        self._stamp_lock = threading.Lock()
        keep = self._handler.handle_DATA

        async def handle_data(server: Any, session: Any, envelope: Any) -> str:
            stamped, wall = time.perf_counter(), datetime.now(UTC)
            reply = await keep(server, session, envelope)
            raw = envelope.original_content or envelope.content
            subject = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])
            with self._stamp_lock:
                self.arrivals.append((stamped, wall, subject))
            return reply

        self._handler.handle_DATA = handle_data  # type: ignore[method-assign]

    def arrivals_from(self, index: int) -> list[tuple[float, datetime, str]]:
        """(perf_counter, wall clock, subject) of the e-mails received after the first ``index``."""

        with self._stamp_lock:
            return self.arrivals[index:]


@dataclass
class Sample:
    case_id: str
    event_id: str
    open_seconds: float
    decision_seconds: float
    decision_sent: float  # perf_counter when the decision POST started
    decision_wall: datetime
    arrived: float = 0.0  # perf_counter when the sink received its e-mail
    arrived_wall: datetime | None = None

    @property
    def reference(self) -> str:
        return self.case_id[:8].upper()


def intake_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "refuge_intake", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def onboard(env: dict[str, str]) -> tuple[str, str]:
    """An organisation, an office, a caseworker and their API key: (api key, staff id)."""

    org = intake_cli(env, "org", "create", "--name", "Bench NGO")["organisation_id"]
    office = intake_cli(
        env,
        "office",
        "create",
        "--org",
        org,
        "--name",
        "Permanence",
        "--kind",
        "drop_in_clinic",
        "--timezone",
        "Europe/Paris",
        "--jurisdiction",
        "FR",
    )["office_id"]
    staff = intake_cli(
        env,
        "staff",
        "create",
        "--org",
        org,
        "--office",
        office,
        "--role",
        "caseworker",
        "--name",
        "Camille Martin",
        "--email",
        f"cw-{uuid.uuid4().hex[:8]}@ngo.test",
    )["staff_id"]
    key = intake_cli(
        env, "key", "create", "--org", org, "--office", office, "--role", "caseworker", "--staff", staff
    )["api_key"]
    return key, staff


def stack_env(tmp: Path, database_url: str, bootstrap: str, smtp_port: int) -> dict[str, str]:
    """The environment tests/conftest.py gives the services."""

    return {
        **ensure_secrets(tmp),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "DEADLINES_REMINDER_OFFSETS": '["P40D"]',
        "CONSUMER_BACKOFF_INITIAL_MS": "50",
        "CONSUMER_MAX_ATTEMPTS": "3",
        "OUTBOX_POLL_INTERVAL_MS": "200",
        "NOTIFICATIONS_SEND_LEASE_SECONDS": "5",
    }


async def step_times(database_url: str, samples: list[Sample]) -> dict[str, list[float]]:
    """Seconds spent between the pipeline's steps, from the services' own timestamps."""

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            # The first reminder fired and the first delivery planned for each decision.
            """SELECT d.trigger_event_id AS event_id, min(i.processed_at) AS applied,
                      min(r.fired_at) AS fired, min(n.created_at) AS planned
               FROM deadlines.deadlines d
               JOIN deadlines.inbox i ON i.event_id = d.trigger_event_id
                                     AND i.consumer = 'refuge.deadlines.cases'
               JOIN deadlines.reminders r ON r.deadline_id = d.deadline_id AND r.fired_at IS NOT NULL
               JOIN notifications.deliveries n ON n.deadline_id = d.deadline_id
               WHERE d.trigger_event_id = ANY($1::text[])
               GROUP BY d.trigger_event_id""",
            [s.event_id for s in samples],
        )
    finally:
        await connection.close()
    by_event = {row["event_id"]: row for row in rows}
    hops: dict[str, list[float]] = {
        "posted → deadlines applied": [],
        "applied → reminder fired": [],
        "fired → delivery planned": [],
        "planned → e-mail received": [],
    }
    for sample in samples:
        row = by_event.get(sample.event_id)
        if row is None:  # not traceable through the tables (left out; n says how many were)
            continue
        steps = [sample.decision_wall, row["applied"], row["fired"], row["planned"], sample.arrived_wall]
        for name, (before, after) in zip(hops, itertools.pairwise(steps), strict=True):
            hops[name].append((after - before).total_seconds())
    return hops
