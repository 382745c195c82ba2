"""HTTP request metrics: labelled by route template, with the status the client got."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from refuge_common.observability.http import RequestMetricsMiddleware


def _requests(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("refuge_http_requests_total", labels) or 0.0


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestMetricsMiddleware)

    @app.get("/metrics-test/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        if item_id == "boom":
            raise RuntimeError("handler failed")
        return {"item": item_id}

    return app


async def test_a_path_with_an_id_is_counted_under_its_template_never_the_id() -> None:
    template = "/metrics-test/items/{item_id}"
    before = _requests(template, "200")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        assert (await client.get("/metrics-test/items/4f1c")).status_code == 200
        assert (await client.get("/metrics-test/items/9a2b")).status_code == 200
    assert _requests(template, "200") - before == 2
    seconds = REGISTRY.get_sample_value(
        "refuge_http_request_duration_seconds_count", {"method": "GET", "route": template}
    )
    assert seconds is not None and seconds >= 2


async def test_a_handler_that_raises_counts_as_a_500_and_an_unknown_path_as_unmatched() -> None:
    template = "/metrics-test/items/{item_id}"
    failed, unmatched = _requests(template, "500"), _requests("unmatched", "404")
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/metrics-test/items/boom")).status_code == 500
        assert (await client.get("/metrics-test/nowhere")).status_code == 404
    assert _requests(template, "500") - failed == 1
    assert _requests("unmatched", "404") - unmatched == 1
