"""Intake's HTTP write path beside a bare endpoint that inserts one row, in the same run.

Intake runs as a real process (``python -m refuge_intake serve``: uvicorn, the real app,
its outbox relay publishing to a fresh Tansu broker) on a fresh database; one tenant is
onboarded through its command line. The write is what a caseworker does: ``POST /cases``
then ``POST /cases/{id}/facts/decision_notified``, authenticated with an API key; each
is one transaction holding the state, the fact and the outbox row. Beside it, in its own
uvicorn process on the same database, a bare FastAPI endpoint validates a small JSON
body and inserts one row with asyncpg (pool of 10, as intake's).

Each is driven by a load generator in this process that speaks HTTP/1.1 on raw asyncio
streams (keep-alive), several times cheaper per request than httpx (its own CPU time per
request is reported too):

- closed loop: ``CLIENTS`` connections, each sending its next request when the last one
  is answered, for ``SECONDS``: throughput and latency at saturation;
- open loop: requests sent on a fixed schedule at each of ``LIGHT_RATES`` (then ``RATE``) per
  second whatever the answers, on at most ``OPEN_CONNECTIONS`` connections, each timed
  from the instant it was due (no coordinated omission): the latency a client sees at
  that offered load. Intake's schedule alternates an opened case and a decision on a
  case opened in the closed loop.

The relay runs (inside intake, as in production) throughout; each open-loop phase starts
once it has emptied the outbox, and the backlog left at the end is reported. So is each
server process's CPU time per request, and PostgreSQL's, which vary less than throughput on a shared
machine: PostgreSQL's twice, all its processes and the bench database's own backends (which
other databases' queries do not reach).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from bench.common import (
    Row,
    backends_cpu_since,
    cpu_busy_percent,
    cpu_jiffies,
    database_backends_cpu,
    fresh_database,
    percentile,
    postgres_cpu_seconds,
    process_cpu_seconds,
    rate,
    tansu_broker,
)
from bench.stack_support import onboard
from refuge_common.db.pool import create_pool
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_devstack.processes import ServiceProcess
from refuge_devstack.stack import ensure_secrets
from refuge_intake.schema import SCHEMA
from refuge_intake.settings import IntakeSettings

NAME = "intake_write"
CLIENTS = 32  # closed-loop connections
SECONDS = 10.0  # closed-loop duration per target
RATE = 1_000.0  # open-loop requests per second
LIGHT_RATES = (100.0, 500.0)  # and lighter loads, to show where latency turns
OPEN_CONNECTIONS = 64  # at most this many requests in flight in the open loop
OPEN_SECONDS = 5.0
WARMUP_SECONDS = 2.0
BARE_TABLE = "bare_writes"
ROOT = Path(__file__).resolve().parent.parent


# -- the bare endpoint ------------------------------------------------------------------


class BareRow(BaseModel):
    tenant_id: uuid.UUID
    kind: str
    note: str | None = None


def bare_app() -> FastAPI:
    """``uvicorn --factory bench.intake_write:bare_app``: POST /rows inserts one row."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(os.environ["BENCH_BARE_DSN"], size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/rows", status_code=201)
    async def insert(row: BareRow) -> dict[str, str]:
        row_id = uuid.uuid4()
        await app.state.pool.execute(
            f"INSERT INTO {BARE_TABLE} (row_id, tenant_id, kind, note) VALUES ($1, $2, $3, $4)",
            row_id,
            row.tenant_id,
            row.kind,
            row.note,
        )
        return {"row_id": str(row_id)}

    return app


@contextlib.contextmanager
def bare_process(database_url: str, log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.intake_write:bare_app", "--factory", "--port", str(port),
             "--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, "BENCH_BARE_DSN": database_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the bare endpoint exited; see {log}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the bare endpoint did not start; see {log}"
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


# -- a small HTTP/1.1 client --------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; requests on it go one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, headers: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n".encode()
            + headers
            + b"\r\n"
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


@dataclass
class Sample:
    kind: str
    seconds: float
    status: int


@dataclass
class Target:
    """What a run sends: ``next_request(i)`` gives (kind, method, path, body) for request i."""

    url: str
    headers: bytes
    next_request: Callable[[int], tuple[str, str, str, bytes]]
    after: Callable[[str, bytes], None] = lambda _kind, _body: None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)


async def closed_loop(
    target: Target, clients: int, seconds: float, pairs: bool
) -> tuple[list[Sample], float]:
    """``clients`` connections back to back for ``seconds``; (samples, elapsed seconds)."""

    samples: list[Sample] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = HttpConnection(*target.address)
        try:
            while time.perf_counter() < deadline:
                # An intake write is a pair: the decision goes on the case just opened.
                for step in range(2 if pairs else 1):
                    kind, method, path, body = target.next_request(-1 if step else 0)
                    started = time.perf_counter()
                    status, answer = await connection.request(method, path, body, target.headers)
                    samples.append(Sample(kind, time.perf_counter() - started, status))
                    target.after(kind, answer)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return samples, time.perf_counter() - started


async def open_loop(
    target: Target, per_second: float, seconds: float, connections: int
) -> tuple[list[Sample], float]:
    """Requests due every 1/``per_second`` s on at most ``connections``, each timed from when it was due.

    A request due while every connection is busy waits for one, and that wait counts in
    its latency (as in wrk2): the server is not given more concurrency than a fleet of
    clients with that many connections would.
    """

    samples: list[Sample] = []
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(HttpConnection(*target.address))
    tasks: set[asyncio.Task[None]] = set()
    count = int(per_second * seconds)

    async def send(index: int, due: float) -> None:
        connection = await idle.get()
        try:
            kind, method, path, body = target.next_request(index)
            status, answer = await connection.request(method, path, body, target.headers)
            samples.append(Sample(kind, time.perf_counter() - due, status))
            target.after(kind, answer)
        finally:
            idle.put_nowait(connection)

    start = time.perf_counter() + 0.05
    for index in range(count):
        due = start + index / per_second
        delay = due - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - start
    while not idle.empty():
        await idle.get_nowait().close()
    return samples, elapsed


# -- the two targets ----------------------------------------------------------------------


@dataclass
class IntakeWrites:
    """Open a case, then record a removal decision on the case opened last (or a pooled one)."""

    key: str
    cases: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    used: int = 0

    def target(self, url: str) -> Target:
        headers = f"Authorization: Bearer {self.key}\r\nContent-Type: application/json\r\n".encode()
        case = json.dumps({"case_type": "removal_appeal", "channel": "in_person"}).encode()
        notified = (datetime.now(UTC) - timedelta(days=2)).isoformat()
        decision = json.dumps({"decision": "oqtf", "regime": "ordinary", "notified_at": notified}).encode()

        def next_request(index: int) -> tuple[str, str, str, bytes]:
            if index >= 0 and index % 2 == 0:
                return "POST /cases", "POST", "/cases", case
            # Closed loop (index -1): the case this client just opened. Open loop (odd index):
            # a case opened earlier, each taking one decision, so no two wait on one row lock.
            case_id = self.opened.pop() if index < 0 else self.cases[self.used % len(self.cases)]
            self.used += index >= 0
            return "POST decision_notified", "POST", f"/cases/{case_id}/facts/decision_notified", decision

        def after(kind: str, body: bytes) -> None:
            if kind == "POST /cases":
                case_id = json.loads(body)["case_id"]
                self.opened.append(case_id)
                self.cases.append(case_id)

        return Target(url, headers, next_request, after)


def bare_target(url: str) -> Target:
    body = json.dumps({"tenant_id": str(uuid.uuid4()), "kind": "removal_appeal", "note": None}).encode()
    return Target(
        url,
        b"Content-Type: application/json\r\n",
        lambda _index: ("POST /rows", "POST", "/rows", body),
    )


# -- the run ------------------------------------------------------------------------------


@dataclass
class Phase:
    samples: list[Sample]
    seconds: float
    cpu_busy: float  # the machine's, both cores
    server_cpu: float  # seconds of CPU the server process used
    client_cpu: float  # and the load generator (this process)
    postgres_cpu: float  # and the PostgreSQL server (all its processes)
    database_cpu: float  # and only the backends connected to the bench's database


async def _measure(
    pid: int, asking: asyncpg.Connection, run: Callable[[], Awaitable[tuple[list[Sample], float]]]
) -> Phase:
    before, server_before, client_before = cpu_jiffies(), process_cpu_seconds(pid), time.process_time()
    postgres_before = postgres_cpu_seconds()
    database_before = await database_backends_cpu(asking, but_this_one=True)
    samples, seconds = await run()
    server = process_cpu_seconds(pid) - server_before
    client = time.process_time() - client_before
    postgres = postgres_cpu_seconds() - postgres_before
    in_database = backends_cpu_since(database_before, await database_backends_cpu(asking, but_this_one=True))
    busy = cpu_busy_percent(before, cpu_jiffies())
    return Phase(samples, seconds, busy, server, client, postgres, in_database)


async def _drive(
    intake: ServiceProcess, bare: tuple[str, int], key: str, database_url: str, scale: float
) -> dict[str, Phase]:
    seconds, open_seconds = max(2.0, SECONDS * scale), max(1.0, OPEN_SECONDS * scale)
    writes = IntakeWrites(key)
    # ServiceProcess keeps its Popen to itself; the bench started it, so it may look.
    pid = intake._process.pid if intake._process else 0
    intake_target, bare_target_ = writes.target(intake.url), bare_target(bare[0])
    # Warm-up: connections, prepared statements, the first topic partitions of the relay.
    await closed_loop(intake_target, CLIENTS, WARMUP_SECONDS, pairs=True)
    await closed_loop(bare_target_, CLIENTS, WARMUP_SECONDS, pairs=False)
    asking = await asyncpg.connect(database_url)  # reads the database's backends' CPU
    try:
        phases = {
            "intake closed": await _measure(
                pid, asking, lambda: closed_loop(intake_target, CLIENTS, seconds, pairs=True)
            ),
            "bare closed": await _measure(
                bare[1], asking, lambda: closed_loop(bare_target_, CLIENTS, seconds, pairs=False)
            ),
        }
        for per_second in (*LIGHT_RATES, RATE):
            writes.used = 0
            # The relay shares intake's process: start each phase with its outbox empty.
            await _outbox_drained(database_url)
            for name, target, server in (("intake", intake_target, pid), ("bare", bare_target_, bare[1])):
                run = functools.partial(open_loop, target, per_second, open_seconds, OPEN_CONNECTIONS)
                phases[f"{name} open {per_second:,.0f}/s"] = await _measure(server, asking, run)
    finally:
        await asking.close()
    return phases


async def _prepare(database_url: str) -> None:
    await migrate_service(IntakeSettings(database_url=database_url), SCHEMA)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"""CREATE TABLE {BARE_TABLE} (
                    row_id uuid PRIMARY KEY, tenant_id uuid NOT NULL, kind text NOT NULL, note text,
                    created_at timestamptz NOT NULL DEFAULT now())"""
        )
    finally:
        await connection.close()


async def _outbox_drained(database_url: str) -> None:
    deadline = time.monotonic() + 120
    while await _outbox_backlog(database_url):
        if time.monotonic() > deadline:
            raise TimeoutError("intake's relay did not drain its outbox in 120 s")
        await asyncio.sleep(0.2)
    # This machine's PostgreSQL runs with autovacuum off (the CI image's setting). In
    # production autovacuum visits the outbox, a queue table whose rows all die, at
    # least once a minute (its threshold is 50 dead rows); do its work here, between
    # phases, or each phase pays for the dead rows of the ones before.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("VACUUM intake.outbox")
    finally:
        await connection.close()


async def _outbox_backlog(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM intake.outbox"))
    finally:
        await connection.close()


def _rows(phases: dict[str, Phase], backlog: int, clients: int) -> list[Row]:
    rows: list[Row] = []
    for name, phase in phases.items():
        failed = sum(1 for s in phase.samples if not 200 <= s.status < 300)
        assert not failed, f"{name}: {failed} requests failed: {[s.status for s in phase.samples][:10]}"
        millis = [s.seconds * 1000 for s in phase.samples]
        closed = name.endswith("closed")
        offered = name.rsplit(" ", 1)[1]
        how = (
            f"{clients} connections back to back"
            if closed
            else f"offered {offered}, open loop, {OPEN_CONNECTIONS} connections"
        )
        if closed:
            rows.append(Row(NAME, f"{name}: throughput", rate(len(millis), phase.seconds), "req/s", how))
        else:
            rows.append(
                Row(
                    NAME,
                    f"{name}: achieved",
                    rate(len(millis), phase.seconds),
                    "req/s",
                    f"{how}, n={len(millis)}",
                )
            )
        rows.append(Row(NAME, f"{name}: p50", percentile(millis, 50), "ms", how))
        rows.append(
            Row(
                NAME,
                f"{name}: p99",
                percentile(millis, 99),
                "ms",
                f"max {max(millis):,.0f} ms, n={len(millis)}",
            )
        )
        for kind in sorted({s.kind for s in phase.samples}):
            if name.startswith("intake"):
                own = [s.seconds * 1000 for s in phase.samples if s.kind == kind]
                rows.append(
                    Row(
                        NAME,
                        f"  {name}: {kind} p50 / p99",
                        percentile(own, 50),
                        "ms",
                        f"p99 {percentile(own, 99):,.1f} ms",
                    )
                )
        server = "intake" if name.startswith("intake") else "bare endpoint"
        rows.append(
            Row(
                NAME,
                f"  {name}: {server} process CPU per request",
                1000 * phase.server_cpu / len(millis),
                "ms",
                f"load generator {1000 * phase.client_cpu / len(millis):.2f} ms; "
                f"machine CPU busy {phase.cpu_busy:.0f}% (both cores)",
            )
        )
        rows.append(
            Row(
                NAME,
                f"  {name}: PostgreSQL CPU per request",
                1000 * phase.postgres_cpu / len(millis),
                "ms",
                "all server processes (others' queries on the server count too)",
            )
        )
        rows.append(
            Row(
                NAME,
                f"  {name}: PostgreSQL CPU per request, this database's backends",
                1000 * phase.database_cpu / len(millis),
                "ms",
                "no other database's queries; no WAL writer, checkpointer or exited backends",
            )
        )
    intake, bare = phases["intake closed"], phases["bare closed"]
    ratio = rate(len(intake.samples), intake.seconds) / rate(len(bare.samples), bare.seconds)
    rows.append(Row(NAME, "intake / bare throughput", 100 * ratio, "%", "closed loop, requests per second"))
    rows.append(Row(NAME, "outbox rows left at the end", backlog, "rows", "relay running in intake"))
    return rows


def run(scale: float = 1.0) -> list[Row]:
    with (
        tempfile.TemporaryDirectory(prefix="refuge-bench-intake-") as tmp,
        fresh_database() as database_url,
        tansu_broker() as bootstrap,
    ):
        asyncio.run(_prepare(database_url))
        port = free_port()
        env = {
            **ensure_secrets(Path(tmp)),
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "INTAKE_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        key, _staff = onboard(env)
        intake = ServiceProcess("intake", "refuge_intake", port, env, Path(tmp) / "intake.log")
        intake.start()
        try:
            intake.wait_ready()
            with bare_process(database_url, Path(tmp) / "bare.log") as bare:
                phases = asyncio.run(_drive(intake, bare, key, database_url, scale))
            backlog = asyncio.run(_outbox_backlog(database_url))
        except Exception:
            if intake.log_path.exists():
                tail = intake.log_path.read_text(errors="replace").splitlines()[-15:]
                print("--- intake log (last lines)", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            intake.stop()
    return _rows(phases, backlog, CLIENTS)
