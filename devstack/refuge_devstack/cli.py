"""``refuge-dev``: the embedded development stack behind ``make run``."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from refuge_common.settings import PlatformSettings
from refuge_devstack.broker import TansuBroker
from refuge_devstack.demo import load_demo_data
from refuge_devstack.lifecycle import Run, run_until_signalled
from refuge_devstack.mail_sink import MailSink
from refuge_devstack.processes import ServiceProcess
from refuge_devstack.sms_sink import SmsStore, sink_app
from refuge_devstack.stack import SERVICES, ensure_secrets, migrate_all, service_processes

app = typer.Typer(help="Refuge development stack", no_args_is_help=True)


@app.callback()
def _commands() -> None:
    """Refuge development stack."""


def _port(variable: str, default: int) -> int:
    return int(os.environ.get(variable, default))


@app.command()
def run(
    run_dir: Annotated[Path, typer.Option(help="where logs, keys and sunk messages go")] = Path(".run"),
) -> None:
    """Broker, migrations, the four services, mail and SMS sinks, demo data; Ctrl-C stops all."""

    asyncio.run(run_until_signalled(lambda run: _start_and_watch(run, run_dir.resolve())))


async def _start_and_watch(run: Run, run_dir: Path) -> None:
    """Each thing is registered on ``run.cleanup`` as soon as it is started, with no await
    in between: a cancellation lands only on an await, so nothing started goes unstopped."""

    settings = PlatformSettings()
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kafka = settings.kafka_bootstrap_servers
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker = TansuBroker(port=_port("DEV_BROKER_PORT", 9092), log_path=logs / "broker.log")
        kafka = broker.bootstrap_servers
        typer.echo(f"starting Tansu broker on {kafka} (memory storage)")
        broker.start()
        run.cleanup.callback(broker.stop)
    smtp_port, sink_port = _port("DEV_SMTP_PORT", 1025), _port("DEV_SINK_HTTP_PORT", 8025)
    mail = MailSink(port=smtp_port, directory=run_dir / "mail")
    mail.start()
    run.cleanup.callback(mail.stop)
    sink_server = uvicorn.Server(
        uvicorn.Config(
            sink_app(SmsStore(run_dir / "sms"), mail), host="127.0.0.1", port=sink_port, log_level="warning"
        )
    )
    sink_thread = threading.Thread(target=sink_server.run, daemon=True)
    sink_thread.start()
    run.cleanup.callback(_stop_sink, sink_server, sink_thread)

    typer.echo(f"migrating {settings.database_url}")
    await migrate_all(settings.database_url)
    secrets = ensure_secrets(run_dir)
    env = {
        **secrets,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": settings.database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }
    ports = {d.name: _port(d.port_variable, d.default_port) for d in SERVICES}
    processes = service_processes(env=env, ports=ports, log_dir=logs)
    typer.echo("starting " + ", ".join(p.name for p in processes))
    for process in processes:
        process.start()
        run.cleanup.callback(process.stop)
    for process in processes:
        await process.ready()
    demo = await load_demo_data(settings.database_url, secrets["REFUGE_MASTER_KEY"], run_dir / "demo.json")
    _print_summary(kafka, settings.database_url, processes, demo, smtp_port, sink_port, logs)
    run.started = True
    while True:
        await asyncio.sleep(1.0)
        for process in processes:
            if not process.running:
                # A stack with a service missing looks up but loses work (its topics pile up
                # unread, its API refuses): stop it all and say so, with a failing exit code
                # for whoever started it (a script, a supervisor, CI).
                typer.echo(
                    f"{process.name} stopped unexpectedly ({process.exit_description()}); "
                    f"the end of {process.log_path}:",
                    err=True,
                )
                typer.echo("".join(process.log_tail(20)), err=True)
                raise typer.Exit(code=1)


def _stop_sink(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


def _print_summary(
    kafka: str,
    database_url: str,
    processes: list[ServiceProcess],
    demo: dict[str, str],
    smtp_port: int,
    sink_port: int,
    logs: Path,
) -> None:
    lines = ["", "Refuge is running:"]
    lines += [f"  {p.name:<14} {p.url}  (docs {p.url}/docs, health {p.url}/health/ready)" for p in processes]
    lines += [
        f"  kafka          {kafka}",
        f"  postgresql     {database_url}",
        f"  mail sink      smtp://127.0.0.1:{smtp_port}  (list: http://127.0.0.1:{sink_port}/mail)",
        f"  sms sink       http://127.0.0.1:{sink_port}/sms",
        f"  logs           {logs}/",
        "",
        "Demo organisation " + demo["organisation_id"] + ", office " + demo["office_id"],
        "Caseworker API key: " + demo["caseworker_api_key"],
        "Try:  curl -H 'Authorization: Bearer " + demo["caseworker_api_key"] + "' "
        '-H \'Content-Type: application/json\' -d \'{"case_type":"removal_appeal","channel":"in_person"}\' '
        + processes[0].url
        + "/cases",
        "",
        "Ctrl-C stops everything.",
    ]
    typer.echo("\n".join(lines))


def main() -> None:
    app()
