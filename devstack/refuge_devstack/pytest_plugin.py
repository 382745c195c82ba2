"""Test harness: a real Kafka-protocol broker and a real PostgreSQL database per session.

Broker: ``KAFKA_BOOTSTRAP_SERVERS`` if set (an external Kafka); otherwise
testcontainers' Kafka when a container engine answers; otherwise the embedded
Tansu broker on a free port. Database: a fresh database on the server of
``DATABASE_URL`` (default the local PostgreSQL), dropped at the end.
With ``CI=true`` a missing broker or database fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from refuge_common.db.pool import with_database
from refuge_devstack.broker import TansuBroker
from refuge_devstack.ports import free_port
from refuge_devstack.tokens import LocalIssuer

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _unavailable(what: str, error: BaseException) -> None:
    message = f"{what} unavailable: {type(error).__name__}: {error}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if os.environ.get("REFUGE_TEST_USE_CONTAINERS") == "1" and _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = TansuBroker(port=free_port(), log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    try:
        broker.start()
    except Exception as error:
        _unavailable("Kafka-protocol broker", error)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


async def _create_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(with_database(server_url, "postgres"), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(with_database(server_url, "postgres"), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@contextlib.contextmanager
def throwaway_database(prefix: str = "refuge_test") -> Iterator[str]:
    """Owner URL of a fresh, empty database, dropped on exit (connections and all)."""

    server = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_create_database(server, name))
    except Exception as error:
        _unavailable("PostgreSQL", error)
    try:
        yield with_database(server, name)
    finally:
        asyncio.run(_drop_database(server, name))


@pytest.fixture(scope="session")
def master_key() -> str:
    """One master key (REFUGE_MASTER_KEY) for every in-process service of the session: they
    share the session's database and so its keyring, and a key wrapped under another master
    key does not unwrap (their events would be dead-lettered, slowly, by every other test)."""

    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """Owner URL of a fresh, empty database for this test session."""

    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave what a person may want to look at (screenshots, logs)."""

    path = Path(os.environ.get("REFUGE_TEST_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's chromium, which playwright drives (it cannot download a browser of its own here):
    ``async_playwright().chromium.launch(executable_path=chromium_executable)``."""

    path = os.environ.get("REFUGE_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        _unavailable("Chromium", FileNotFoundError(path))
    return path


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    """A token issuer of the module's own, as intake's would be: a signing key and a JWKS
    endpoint (``issuer.jwks_url``) for the services under test to verify tokens with."""

    local = LocalIssuer(tmp_path_factory.mktemp("issuer") / "key.pem")
    yield local
    local.close()
