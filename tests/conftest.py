"""End-to-end fixtures: the four services as real processes on a real broker and database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack

from refuge_devstack.mail_sink import MailSink
from refuge_devstack.ports import free_port
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.stack import SERVICES, ensure_secrets, migrate_all, service_processes


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[Stack]:
    # A database of its own: the session's database holds the other tests' rows and keyring,
    # whose keys are wrapped under other master keys than the stack's.
    with throwaway_database("refuge_e2e") as database_url:
        yield from _run_stack(kafka_bootstrap_servers, database_url, tmp_path_factory, artifacts_dir)


def _run_stack(
    kafka_bootstrap_servers: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    asyncio.run(migrate_all(database_url))
    mail = MailSink(port=free_port())
    mail.start()
    env = {
        **ensure_secrets(run_dir),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DATABASE_URL": database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        # Every reminder offset is already past for a month-long deadline, so the
        # timer is set for "now" and fires within the test (DESIGN: seconds, not weeks).
        "DEADLINES_REMINDER_OFFSETS": '["P40D"]',
        "CONSUMER_BACKOFF_INITIAL_MS": "50",
        "CONSUMER_MAX_ATTEMPTS": "3",
        "CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "OUTBOX_POLL_INTERVAL_MS": "200",
        "NOTIFICATIONS_SEND_LEASE_SECONDS": "5",
        "SMTP_TIMEOUT_SECONDS": "5",
        "SMTP_POOL_SIZE": "4",  # sends in their SMTP exchange at once, at most
    }
    ports = {d.name: free_port() for d in SERVICES}
    processes = service_processes(env=env, ports=ports, log_dir=artifacts_dir / "e2e-logs")
    env = processes[0].env
    for process in processes:
        process.start()
    stack = Stack(env=env, processes={p.name: p for p in processes}, mail=mail, kafka=kafka_bootstrap_servers)
    try:
        for process in processes:
            process.wait_ready()
        yield stack
    finally:
        for process in stack.processes.values():
            process.stop()
        mail.stop()
