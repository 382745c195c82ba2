"""Intake's composition root: settings, runtime, keyring, token issuer, HTTP app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from refuge_common.contract import topics
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.runtime import ServiceRuntime
from refuge_intake.adapters.token_issuer import TokenIssuer
from refuge_intake.entrypoints import (
    http_audit,
    http_case_facts,
    http_case_hearings,
    http_case_status,
    http_cases,
    http_litigation,
    http_persons,
    http_tokens,
)
from refuge_intake.entrypoints.http_auth import VerifiedKeys
from refuge_intake.entrypoints.http_errors import validation_failed
from refuge_intake.entrypoints.http_limits import BodySizeLimit
from refuge_intake.entrypoints.http_openapi import document_app_answers
from refuge_intake.entrypoints.idempotency_purge import IdempotencyPurge
from refuge_intake.schema import SCHEMA
from refuge_intake.settings import IntakeSettings


def build_keyring(settings: IntakeSettings) -> Keyring:
    if settings.master_key is None:
        raise SystemExit("REFUGE_MASTER_KEY is not set: intake cannot protect personal data")
    return Keyring(MasterKeyWrapper(settings.master_key.get_secret_value()))


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, SCHEMA)
    for topic in (topics.DIRECTORY, topics.CASES, topics.PERSONS):
        runtime.publishes(topic)  # every type on them, through the outbox (AsyncAPI document)
    app = runtime.http_app(
        title="Refuge intake",
        version="0.1.0",
        description="Organisations, offices, staff, API keys and tokens, persons and cases.",
    )
    app.state.runtime = runtime
    app.state.pool = lambda: runtime.pool
    retention = timedelta(hours=settings.intake_idempotency_retention_hours)
    app.state.idempotency_purge = IdempotencyPurge(lambda: runtime.pool, retention=retention)
    runtime.background(app.state.idempotency_purge.run)
    app.state.keyring = build_keyring(settings)
    app.state.verified_keys = VerifiedKeys()
    app.state.issuer = TokenIssuer(settings.intake_signing_key_file, settings.intake_token_ttl_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.intake_max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_failed)
    document_app_answers(app)
    app.include_router(http_tokens.router)
    app.include_router(http_cases.router)
    app.include_router(http_case_facts.router)
    app.include_router(http_case_hearings.router)
    app.include_router(http_case_status.router)
    app.include_router(http_litigation.router)
    app.include_router(http_persons.router)
    app.include_router(http_audit.router)
    return app
