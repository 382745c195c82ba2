"""Fixtures of the libs/common integration tests (real Tansu broker, real PostgreSQL)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the shared helpers live here.
sys.path.insert(0, str(Path(__file__).parent))

from refuge_it_support import Kafka


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap_servers: str) -> Kafka:
    return Kafka(kafka_bootstrap_servers)
