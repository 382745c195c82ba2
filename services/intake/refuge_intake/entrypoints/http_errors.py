"""422 answers that name the field and do not repeat what was sent."""

from __future__ import annotations

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


async def validation_failed(_request: Request, error: Exception) -> JSONResponse:
    # FastAPI's default answer echoes each rejected value ("input"): for a person, a
    # phone number or an e-mail address in a response body and in whatever logs it.
    assert isinstance(error, RequestValidationError)
    details = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(details)})
