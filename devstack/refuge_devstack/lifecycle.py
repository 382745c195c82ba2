"""Ctrl-C or SIGTERM stops the development stack whenever it comes, during start-up too.

Start-up and the watch after it run as one task, which the first signal cancels: start-up
waits are awaited (migrations, readiness, demo data), so it stops at the next one and
starts nothing more. Whatever it started, it registered on ``Run.cleanup`` at once; that
is closed afterwards, in reverse order, in a thread: the stops block (a ready service is
given 20 s to finish before it is killed) while the loop stays free to answer further
signals, which no longer cancel anything and so cannot cut the stopping short.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import typer

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Run:
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    started: bool = False


async def run_until_signalled(body: Callable[[Run], Coroutine[Any, Any, None]]) -> None:
    """Run ``body`` until it returns or a signal comes, then stop what it started.

    Ends normally on a signal, as the runner always has (exit code 0); a failure of
    ``body`` (``typer.Exit`` included: a service that died) is raised once everything it
    started is stopped.
    """

    loop = asyncio.get_running_loop()
    run = Run()
    task = asyncio.create_task(body(run))

    def already_stopping() -> None:
        typer.echo("already stopping: waiting for the processes to exit")

    def ignore_signals() -> None:
        for number in SIGNALS:
            loop.add_signal_handler(number, already_stopping)

    def interrupted(number: signal.Signals) -> None:
        if run.started:
            typer.echo(f"{number.name} received: stopping")
        else:
            typer.echo(f"{number.name} received during start-up: stopping what it has started")
        ignore_signals()
        task.cancel()

    for number in SIGNALS:
        loop.add_signal_handler(number, interrupted, number)
    try:
        await asyncio.wait([task])
    finally:
        ignore_signals()
        if not task.cancelled():
            typer.echo("stopping…")
        await asyncio.to_thread(run.cleanup.close)
        typer.echo("stopped")
    if not task.cancelled():
        task.result()
