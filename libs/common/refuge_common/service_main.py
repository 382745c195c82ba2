"""What each service's command line shares: ``migrate``, ``serve``, and a pool for its commands."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer
import uvicorn
from fastapi import FastAPI

from refuge_common.db.migrations import SchemaSpec, app_dsn, ensure_database, migrate
from refuge_common.db.pool import create_pool
from refuge_common.observability.logging import configure_logging, get_logger
from refuge_common.settings import PlatformSettings

log = get_logger(__name__)
SettingsT = TypeVar("SettingsT", bound=PlatformSettings)
T = TypeVar("T")
GC_THRESHOLD = 10_000  # CPython's default for the first generation is 700


async def open_service_pool(
    settings: PlatformSettings, spec: SchemaSpec, *, size: int, across_tenants: bool = False
) -> asyncpg.Pool:
    """A pool logged in as the service's own role: no owner rights, row-level security on;
    ``across_tenants``: for the loops that read a platform table's rows of every tenant."""

    password = settings.database_app_password
    dsn = app_dsn(settings.database_url, spec, password.get_secret_value() if password else None)
    return await create_pool(dsn, size=size, schema=spec.schema, across_tenants=across_tenants)


def run_with_pool(
    settings: SettingsT, spec: SchemaSpec, action: Callable[[asyncpg.Pool, SettingsT], Awaitable[T]]
) -> T:
    """Run one command's ``action`` on a small pool of its own, closed after."""

    async def main() -> T:
        pool = await open_service_pool(settings, spec, size=2)
        try:
            return await action(pool, settings)
        finally:
            await pool.close()

    return asyncio.run(main())


async def migrate_service(settings: PlatformSettings, spec: SchemaSpec) -> list[str]:
    """Create the database if needed, then the keyring and the service's schema."""

    if await ensure_database(settings.database_url):
        log.info("database_created")
    password = settings.database_app_password
    return await migrate(settings.database_url, spec, password.get_secret_value() if password else None)


def run_migrations(service: str, settings: PlatformSettings, spec: SchemaSpec) -> None:
    configure_logging(service, settings.log_level, settings.log_format)
    applied = asyncio.run(migrate_service(settings, spec))
    log.info("migrated", schema=spec.schema, applied=applied)


def serve(service: str, settings: PlatformSettings, app: FastAPI, port: int) -> None:
    configure_logging(service, settings.log_level, settings.log_format)
    _fewer_collections()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _fewer_collections() -> None:
    """Spare the serving process's collector the objects that live as long as it does.

    Everything imported and built by now (modules, routes, pydantic schemas) is frozen out
    of collections, and the first generation collects every 10,000 allocations instead
    of 700: a request's objects are freed by reference counting, but with the defaults a
    collection ran every few requests and the older generations' walked all of the above.
    Measured on intake's write path: 4.4 % of its profile samples were in the collector,
    and its CPU per request went from 0.77-0.83 ms to 0.69-0.84 (alternating runs).
    Cycles are still collected, later.
    """

    gc.freeze()
    threshold, *older = gc.get_threshold()
    gc.set_threshold(max(threshold, GC_THRESHOLD), *older)


def service_cli(
    service: str,
    settings_type: type[PlatformSettings],
    spec: SchemaSpec,
    app_factory: str,
    port_setting: str,
) -> typer.Typer:
    """A service's ``serve`` and ``migrate`` commands.

    ``app_factory`` is ``module:function``, imported only by ``serve`` so that
    ``migrate`` and the other commands start without the web stack.
    """

    cli = typer.Typer(help=f"Refuge {service} service", no_args_is_help=True)

    @cli.command("serve")
    def serve_command() -> None:
        """Run the service: HTTP API, consumers, background workers and outbox relay."""
        module_name, function = app_factory.split(":")
        settings = settings_type()
        build_app = getattr(importlib.import_module(module_name), function)
        serve(service, settings, build_app(settings), int(getattr(settings, port_setting)))

    @cli.command("migrate")
    def migrate_command() -> None:
        """Create the database if missing and apply this service's migrations."""
        run_migrations(service, settings_type(), spec)

    return cli
