"""The four services wired together: migrations, environment, processes."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from refuge_common.db.migrations import SchemaSpec
from refuge_common.service_main import migrate_service
from refuge_common.settings import PlatformSettings
from refuge_devstack.processes import ServiceProcess


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    module: str
    port_variable: str
    default_port: int


SERVICES = (
    ServiceDefinition("intake", "refuge_intake", "INTAKE_PORT", 8001),
    ServiceDefinition("deadlines", "refuge_deadlines", "DEADLINES_PORT", 8002),
    ServiceDefinition("notifications", "refuge_notifications", "NOTIFICATIONS_PORT", 8003),
    ServiceDefinition("reporting", "refuge_reporting", "REPORTING_PORT", 8004),
)


def schema_specs() -> list[SchemaSpec]:
    from refuge_deadlines.schema import SCHEMA as DEADLINES
    from refuge_intake.schema import SCHEMA as INTAKE
    from refuge_notifications.schema import SCHEMA as NOTIFICATIONS
    from refuge_reporting.schema import SCHEMA as REPORTING

    return [INTAKE, DEADLINES, NOTIFICATIONS, REPORTING]


async def migrate_all(database_url: str) -> None:
    settings = PlatformSettings(database_url=database_url)
    for spec in schema_specs():
        await migrate_service(settings, spec)


def ensure_secrets(run_dir: Path) -> dict[str, str]:
    """A master key and a token-signing key for a development stack, made once."""

    from refuge_intake.adapters.token_issuer import generate_signing_key

    run_dir.mkdir(parents=True, exist_ok=True)
    master = run_dir / "master.key"
    if not master.exists():
        master.write_text(base64.b64encode(os.urandom(32)).decode())
        master.chmod(0o600)
    feeds = run_dir / "calendar-feed.secret"
    if not feeds.exists():
        feeds.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
        feeds.chmod(0o600)
    signing = run_dir / "intake-signing-key.pem"
    if not signing.exists():
        generate_signing_key(signing)
    return {
        "REFUGE_MASTER_KEY": master.read_text().strip(),
        "INTAKE_SIGNING_KEY_FILE": str(signing),
        "DEADLINES_FEED_SECRET": feeds.read_text().strip(),
    }


def service_processes(*, env: dict[str, str], ports: dict[str, int], log_dir: Path) -> list[ServiceProcess]:
    shared = {
        **env,
        **{d.port_variable: str(ports[d.name]) for d in SERVICES},
        "JWKS_URL": f"http://127.0.0.1:{ports['intake']}/.well-known/jwks.json",
    }
    return [
        ServiceProcess(d.name, d.module, ports[d.name], shared, log_dir / f"{d.name}.log") for d in SERVICES
    ]
