"""The walking skeleton as processes: HTTP write latency and decision → e-mail latency.

The four services run as real processes (``service_processes``, like tests/conftest.py)
on a fresh database and a fresh Tansu broker, with an SMTP sink in this process and
``DEADLINES_REMINDER_OFFSETS=["P40D"]`` so every reminder is due at once. One tenant
is onboarded through ``python -m refuge_intake``; then one client, sequentially,
opens a case and records a removal decision on it, 200 times. Each decision becomes a
deadline, a reminder and one e-mail to the caseworker.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from bench.common import (
    Row,
    cpu_busy_percent,
    cpu_jiffies,
    fresh_database,
    latency_rows,
    percentile,
    rate,
    tansu_broker,
)
from bench.stack_support import Sample, TimedMailSink, onboard, stack_env, step_times
from refuge_devstack.ports import free_port
from refuge_devstack.stack import SERVICES, migrate_all, service_processes

NAME = "skeleton_latency"
WARMUP_CASES = 10
PACED_CASES = 50
PACED_RATE = 5.0  # cases per second in the paced phase
PARIS = ZoneInfo("Europe/Paris")


def _case_with_decision(client: httpx.Client, staff: str, notified_at: str) -> Sample:
    started = time.perf_counter()
    opened = client.post(
        "/cases", json={"case_type": "removal_appeal", "channel": "in_person", "caseworker_id": staff}
    )
    open_seconds = time.perf_counter() - started
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    wall, sent = datetime.now(UTC), time.perf_counter()
    recorded = client.post(
        f"/cases/{case_id}/facts/decision_notified",
        json={"decision": "oqtf", "regime": "ordinary", "notified_at": notified_at},
    )
    decision_seconds = time.perf_counter() - sent
    assert recorded.status_code == 201, recorded.text
    return Sample(case_id, recorded.json()["event_id"], open_seconds, decision_seconds, sent, wall)


def _wait_for_mail(sink: TimedMailSink, samples: list[Sample], timeout: float) -> None:
    """Wait for each sample's e-mail and record when it arrived (looking at new mail only)."""

    pending = {s.reference: s for s in samples}
    seen, deadline = 0, time.monotonic() + timeout
    while pending:
        arrivals = sink.arrivals_from(seen)
        seen += len(arrivals)
        for stamped, wall, subject in arrivals:
            for reference in [r for r in pending if r in subject]:
                sample = pending.pop(reference)
                sample.arrived, sample.arrived_wall = stamped, wall
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(samples)} e-mails missing after {timeout:.0f}s")
        time.sleep(0.05)


def _drive(url: str, key: str, staff: str, sink: TimedMailSink, cases: int) -> Measured:
    notified = (
        datetime.combine(datetime.now(PARIS).date() - timedelta(days=2), datetime.min.time(), PARIS)
        .replace(hour=10, minute=30)
        .isoformat()
    )
    with httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
        warmup = [_case_with_decision(client, staff, notified) for _ in range(WARMUP_CASES)]
        _wait_for_mail(sink, warmup, timeout=120)
        cpu_before = cpu_jiffies()
        samples = [_case_with_decision(client, staff, notified) for _ in range(cases)]
        _wait_for_mail(sink, samples, timeout=300)
        cpu = cpu_busy_percent(cpu_before, cpu_jiffies())
        paced: list[Sample] = []
        for _ in range(PACED_CASES):
            next_at = time.perf_counter() + 1 / PACED_RATE
            paced.append(_case_with_decision(client, staff, notified))
            time.sleep(max(0.0, next_at - time.perf_counter()))
        _wait_for_mail(sink, paced, timeout=120)
    return Measured(samples, paced, cpu)


def _hop_rows(prefix: str, hops: dict[str, list[float]], note: str) -> list[Row]:
    rows = []
    for name, seconds in hops.items():
        millis = [x * 1000 for x in seconds]
        detail = f"p99 {percentile(millis, 99):,.0f} ms, n={len(millis)}" + (f"; {note}" if note else "")
        rows.append(Row(NAME, f"  {prefix}hop {name} p50", percentile(millis, 50), "ms", detail))
    return rows


@dataclass
class Measured:
    samples: list[Sample]
    paced: list[Sample]
    cpu_busy: float


def run(scale: float = 1.0) -> list[Row]:
    cases = max(20, int(200 * scale))
    with (
        tempfile.TemporaryDirectory(prefix="refuge-bench-stack-") as tmp,
        fresh_database() as database_url,
        tansu_broker() as bootstrap,
    ):
        asyncio.run(migrate_all(database_url))
        sink = TimedMailSink(port=free_port())
        sink.start()
        env = stack_env(Path(tmp), database_url, bootstrap, sink.port)
        ports = {d.name: free_port() for d in SERVICES}
        processes = service_processes(env=env, ports=ports, log_dir=Path(tmp) / "logs")
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.wait_ready()
            key, staff = onboard(processes[0].env)
            measured = _drive(processes[0].url, key, staff, sink, cases)
            hops = asyncio.run(step_times(database_url, measured.samples))
            paced_hops = asyncio.run(step_times(database_url, measured.paced))
        except Exception:
            for process in processes:  # the logs go with the temporary directory
                if process.log_path.exists():
                    tail = process.log_path.read_text(errors="replace").splitlines()[-15:]
                    print(f"--- {process.name} log (last lines)", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            for process in processes:
                process.stop()
            sink.stop()

    samples, paced = measured.samples, measured.paced
    expected = WARMUP_CASES + cases + PACED_CASES
    assert len(sink.arrivals) == expected, f"{len(sink.arrivals)} e-mails for {expected} decisions"
    note = f"{cases} cases after {WARMUP_CASES} warm-up; 1 client, back to back"
    last_mail = max(s.arrived for s in samples)
    rows = [
        *latency_rows(NAME, "POST /cases", [s.open_seconds for s in samples], note),
        *latency_rows(NAME, "POST decision_notified", [s.decision_seconds for s in samples], note),
        *latency_rows(
            NAME,
            "decision POST → e-mail in sink",
            [s.arrived - s.decision_sent for s in samples],
            "through intake, deadlines, notifications (2 relays, 2 consumers, timer, dispatcher)",
        ),
        Row(
            NAME,
            "e-mails/s overall",
            rate(cases, last_mail - samples[0].decision_sent),
            "e-mails/s",
            "first measured decision POST → last e-mail",
        ),
        Row(
            NAME,
            "machine CPU busy (both cores)",
            measured.cpu_busy,
            "%",
            "/proc/stat over the back-to-back phase, services + PostgreSQL + Tansu + this client",
        ),
    ]
    rows += _hop_rows("", hops, "services' DB timestamps (transaction start)")
    rows += latency_rows(
        NAME,
        f"paced {PACED_RATE:g}/s: decision POST → e-mail",
        [s.arrived - s.decision_sent for s in paced],
        f"{PACED_CASES} more cases, one every {1000 / PACED_RATE:.0f} ms (no backlog)",
    )
    rows += _hop_rows("paced: ", paced_hops, "")
    return rows
