"""Fixtures of the refuge_ops integration tests: the session's real Kafka-protocol broker."""

from __future__ import annotations

import pytest
from ops_kafka import Kafka


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap_servers: str) -> Kafka:
    return Kafka(kafka_bootstrap_servers)
