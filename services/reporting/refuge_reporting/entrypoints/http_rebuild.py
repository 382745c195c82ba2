"""Operators' rebuild endpoint: start a rebuild of every projection, and follow it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from refuge_common.auth.principal import Principal
from refuge_reporting.service_layer.rebuild import Projections, RebuildRunning


def rebuild_router(operator: Callable[..., Awaitable[Principal]]) -> APIRouter:
    router = APIRouter(prefix="/operator/rebuild", tags=["operator"])

    def projections(request: Request) -> Projections:
        found: Projections = request.app.state.projections
        return found

    @router.post("", status_code=status.HTTP_202_ACCEPTED, summary="Rebuild the projections from offset 0")
    async def start(request: Request, _principal: Principal = Depends(operator)) -> dict[str, Any]:
        try:
            rebuild = await projections(request).start_rebuild()
        except RebuildRunning as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return rebuild.status()

    @router.get(
        "",
        summary="The last rebuild's progress: events done out of the topics' end offsets, "
        "whichever replica runs it",
    )
    async def progress(request: Request, _principal: Principal = Depends(operator)) -> dict[str, Any]:
        found = await projections(request).rebuild_status()
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no rebuild yet")
        return found

    return router
