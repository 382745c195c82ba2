"""Health, metrics and request metrics for every service's HTTP app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

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


class RequestMetricsMiddleware(BaseHTTPMiddleware):
    """Counts and times requests by route template, never by concrete path (ids)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_SECONDS.labels(request.method, template).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        return response


def instrument(app: FastAPI, checks: Mapping[str, ReadinessCheck]) -> None:
    app.include_router(health_router(checks))
    app.add_middleware(RequestMetricsMiddleware)
