"""GET /asyncapi (page), /asyncapi.json and /asyncapi.yaml: a service's public event contract.

No authentication: the document describes the contract, never data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse

from refuge_common.specification.rendering import AsyncAPIDocument


def asyncapi_router(build: Callable[[], AsyncAPIDocument]) -> APIRouter:
    """Routes serving the document ``build`` returns, built once on first request, when
    the composition root has declared everything."""

    document = functools.cache(build)
    # Not in the OpenAPI document: the event contract is not an operation of the HTTP API
    # (and needs no credentials, unlike everything the API's tests expect of a route).
    router = APIRouter(tags=["contract"], include_in_schema=False)

    @router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the events (JSON)")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(document().to_jsonable())

    @router.get(
        "/asyncapi.yaml",
        summary="AsyncAPI 3.0 document of the events (YAML)",
        response_class=Response,
        responses={200: {"content": {"application/yaml": {}}}},
    )
    async def asyncapi_yaml() -> Response:
        return Response(document().to_yaml(), media_type="application/yaml")

    @router.get("/asyncapi", summary="AsyncAPI page of the events", response_class=HTMLResponse)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(document().to_html())

    return router
