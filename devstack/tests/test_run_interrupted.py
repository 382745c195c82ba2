"""`refuge-dev run` stops at Ctrl-C or SIGTERM during start-up, or when a service dies, and
leaves nothing behind.

The runner is started as a user would start it, on ports and a database of the test's own,
and signalled once it has started the broker (before migrations) or the four services
(before they are ready). What it spawned is followed through /proc while it runs: the
services are in sessions of their own, so a survivor would be reparented and lost from view.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from refuge_devstack.ports import free_port
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.stack import SERVICES

pytestmark = pytest.mark.integration

REFUGE_DEV = Path(sys.executable).with_name("refuge-dev")
# Start-up and stopping both end well within this (a service gets 20 s to stop, then is
# killed); it only keeps a broken runner from hanging the test run.
PATIENCE = 240.0
PORT_VARIABLES = (
    "DEV_BROKER_PORT",
    "DEV_SMTP_PORT",
    "DEV_SINK_HTTP_PORT",
    *(d.port_variable for d in SERVICES),
)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent, start time) of a live process; None once it is gone or a zombie."""

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in "ZX" else (int(fields[1]), fields[19])


class Descendants:
    """Every process ever seen below ``root``, as (pid, start time): a pid alone may be reused."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: set[tuple[int, str]] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._done.wait(0.02):
            self.seen |= self.alive_below()

    def alive_below(self) -> set[tuple[int, str]]:
        stats = {int(p): _stat(int(p)) for p in os.listdir("/proc") if p.isdigit()}
        below, frontier = set(), {self.root}
        while frontier:
            children = {(pid, s[1]) for pid, s in stats.items() if s is not None and s[0] in frontier}
            below |= children
            frontier = {pid for pid, _ in children}
        return below

    def survivors(self) -> set[tuple[int, str]]:
        return {(pid, start) for pid, start in self.seen if (_stat(pid) or (0, ""))[1] == start}

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class Runner:
    def __init__(self, env: dict[str, str], run_dir: Path) -> None:
        self.process = subprocess.Popen(
            [str(REFUGE_DEV), "run", "--run-dir", str(run_dir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.descendants = Descendants(self.process.pid)
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def expect_line(self, text: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"no line with {text!r}; output:\n{''.join(self.output)}")

    def expect_children(self, count: int) -> None:
        deadline = time.monotonic() + PATIENCE
        while len(self.descendants.alive_below()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.descendants.alive_below()) >= count

    def wait(self) -> int:
        code = self.process.wait(timeout=PATIENCE)
        self.descendants.stop()
        while (line := self._lines.get(timeout=PATIENCE)) is not None:
            self.output.append(line)
        return code

    def kill_everything(self) -> None:
        """After a failure: no runner, broker or service of the test left running."""

        self.process.kill()
        self.process.wait()
        self.descendants.stop()
        for pid, _ in self.descendants.survivors():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def ports() -> dict[str, int]:
    return {variable: free_port() for variable in PORT_VARIABLES}


@pytest.fixture
def start_runner(tmp_path: Path, ports: dict[str, int]) -> Iterator[Callable[[], Runner]]:
    runners: list[Runner] = []
    with throwaway_database("refuge_devrun") as database_url:
        env = {**os.environ, "DATABASE_URL": database_url, **{k: str(v) for k, v in ports.items()}}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the runner is to start a broker of its own

        def start() -> Runner:
            runners.append(Runner(env, tmp_path / "run"))
            return runners[-1]

        try:
            yield start
        finally:
            for runner in runners:
                runner.kill_everything()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _assert_stopped_cleanly(runner: Runner, code: int, ports: dict[str, int], received: str) -> None:
    output = "".join(runner.output)
    assert "Refuge is running" not in output, "start-up went on to the end:\n" + output
    assert f"{received} received during start-up" in output, output
    assert code == 0 and "Traceback" not in output, output  # as a Ctrl-C once the stack is up
    assert runner.descendants.seen, "no process followed: the test saw nothing to stop"
    assert not runner.descendants.survivors(), output
    assert [v for v, port in ports.items() if not _port_free(port)] == [], output


def test_ctrl_c_as_soon_as_the_broker_starts_stops_it(
    start_runner: Callable[[], Runner], ports: dict[str, int]
) -> None:
    runner = start_runner()
    runner.expect_line("starting Tansu broker")
    runner.expect_children(1)
    runner.process.send_signal(signal.SIGINT)
    _assert_stopped_cleanly(runner, runner.wait(), ports, "SIGINT")


def test_sigterm_while_the_services_start_stops_each_of_them(
    start_runner: Callable[[], Runner], ports: dict[str, int]
) -> None:
    runner = start_runner()
    runner.expect_children(1 + len(SERVICES))
    runner.process.send_signal(signal.SIGTERM)
    _assert_stopped_cleanly(runner, runner.wait(), ports, "SIGTERM")


def test_a_second_ctrl_c_while_stopping_leaves_no_process_behind(
    start_runner: Callable[[], Runner], ports: dict[str, int]
) -> None:
    runner = start_runner()
    runner.expect_children(1 + len(SERVICES))
    runner.process.send_signal(signal.SIGINT)
    runner.expect_line("received during start-up")
    runner.process.send_signal(signal.SIGINT)
    runner.process.send_signal(signal.SIGINT)
    code = runner.wait()
    assert "already stopping" in "".join(runner.output)
    _assert_stopped_cleanly(runner, code, ports, "SIGINT")


def _service_pid(runner: Runner, module: str) -> int:
    for pid, _ in runner.descendants.alive_below():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in command:
            return pid
    raise AssertionError(f"no process runs {module}")


def test_a_service_that_dies_stops_the_stack_with_a_failing_exit_code(
    start_runner: Callable[[], Runner], ports: dict[str, int]
) -> None:
    runner = start_runner()
    runner.expect_line("Refuge is running")
    reporting = next(d for d in SERVICES if d.name == "reporting")
    os.kill(_service_pid(runner, reporting.module), signal.SIGKILL)

    code = runner.wait()

    output = "".join(runner.output)
    assert code == 1, output
    assert "reporting stopped unexpectedly (killed by SIGKILL)" in output, output
    assert "stopped\n" in output, output
    assert not runner.descendants.survivors(), output
    assert [v for v, port in ports.items() if not _port_free(port)] == [], output
