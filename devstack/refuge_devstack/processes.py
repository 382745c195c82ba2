"""Service processes of the stack, started, awaited, stopped (or killed) like in production."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _was_ready: bool = field(default=False, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the runner, which stops us in order
        )
        log.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        asyncio.run(self.ready(timeout))

    async def ready(self, within: float = 60.0) -> None:
        """Until ``/health/ready`` answers 200; awaited, so that a Ctrl-C can cancel the wait."""

        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self._process.returncode}; see {self.log_path}"
                    )
                try:
                    if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                        self._was_ready = True
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {within:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, and ``timeout`` s to finish before a SIGKILL.

        One that never answered ready is killed at once: uvicorn acts on SIGTERM only after
        the app's start-up, which takes notifications some 45 s on a small machine, so a
        Ctrl-C during ``make run``'s start-up would wait for it, or for the timeout.
        Nothing has been sent its way yet, and every service must survive a kill anyway.
        """

        if self._process is None or self._process.poll() is not None:
            return
        if not self._was_ready:
            self.kill()
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_description(self) -> str:
        """How the process ended: "exit code 3", "killed by SIGKILL", or "running"."""

        code = None if self._process is None else self._process.poll()
        if code is None:
            return "running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def log_tail(self, lines: int) -> list[str]:
        """The last ``lines`` lines of its log (JSON lines: no personal data is logged)."""

        try:
            with self.log_path.open("rb") as log:
                return [line.decode(errors="replace") for line in collections.deque(log, maxlen=lines)]
        except OSError:
            return []
