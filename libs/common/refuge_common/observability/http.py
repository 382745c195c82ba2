"""Health, metrics and request metrics for every service's HTTP app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from refuge_common.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @router.get("/health/ready", summary="Broker and database reachable")
    async def ready() -> JSONResponse:
        results = await asyncio.gather(*(_safe(check) for check in checks.values()))
        status = dict(zip(checks, results, strict=True))
        ok = all(results)
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": status},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _safe(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=5)
    except Exception:
        return False


class RequestMetricsMiddleware:
    """Counts and times requests by route template, never by concrete path (ids).

    A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``, which runs
    each request through an extra task and memory streams: measured on intake's write
    path, that cost 0.5-1.3 ms of CPU per request, a quarter of intake's own.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # ``labels()`` takes a lock and checks its values on every call: about 1 % of a
        # write's CPU for the two metrics. The children are kept, as prometheus-client's
        # documentation suggests for hot paths; routes, methods and statuses are few.
        self._timers: dict[tuple[str, str], Any] = {}
        self._counters: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router writes the matched route into this same scope.
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            timer = self._timers.get((method, template))
            if timer is None:
                timer = self._timers[method, template] = HTTP_SECONDS.labels(method, template)
            timer.observe(time.perf_counter() - started)
            counter = self._counters.get((method, template, status))
            if counter is None:
                counter = self._counters[method, template, status] = HTTP_REQUESTS.labels(
                    method, template, str(status)
                )
            counter.inc()


def instrument(app: FastAPI, checks: Mapping[str, ReadinessCheck]) -> None:
    app.include_router(health_router(checks))
    app.add_middleware(RequestMetricsMiddleware)
