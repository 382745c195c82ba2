"""A leaner request handler for the case writes, with FastAPI's own answer for anything unusual.

FastAPI's generic handler does, for every request, what a well-formed case write does not
need: the content type parsed through ``email.message``, the body through ``json.loads``
and then validated as a dict, a general dependency solver, telemetry hooks. On intake's
write path (open a case, record a decision) that was about 8 % of the process's CPU
(py-spy, session 7), while the write itself is one statement. :class:`LeanWriteRoute`
handles a request whose endpoint has the shape of a case write (path parameters, one JSON
body model, the ``Request``, dependencies that take only the ``Request``): the body is
validated from its bytes by pydantic (``model_validate_json``), the dependencies are called
in their order, then the endpoint, which answers with a ``Response`` of its own.

Whatever is not that ordinary case goes to FastAPI's handler, built for the same route, so
that every refusal is FastAPI's and looks as it always did: another content type, an empty
body, a body or path parameter that does not validate (Starlette keeps the body it read, so
it is not read twice), dependency overrides set on the app. The OpenAPI document does not
change: FastAPI generates it from the route, not from the handler.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# How FastAPI itself finds the route as included (with the includer's dependencies). Absent
# from another FastAPI: every request then takes FastAPI's handler (and a test fails).
_included_as: ContextVar[Any] | None = getattr(fastapi.routing, "_effective_route_context_var", None)


class LeanWriteRoute(APIRoute):
    """An ``APIRoute`` whose ordinary requests skip FastAPI's generic handler (module doc)."""

    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        if _included_as is None:
            return generic
        # FastAPI builds the handler of a route included in an app lazily, with the
        # includer's dependencies in the dependant: read it where FastAPI does.
        context = _included_as.get()
        if context is not None and context.original_route is self:
            plan = _LeanPlan.of(context.dependant, context.dependency_overrides_provider)
        else:
            plan = _LeanPlan.of(self.dependant, self.dependency_overrides_provider)
        return generic if plan is None else plan.handler(generic)

    @staticmethod
    def supports(dependant: Dependant) -> bool:
        """Whether a request to this endpoint can take the lean handler."""

        return _LeanPlan.of(dependant, None) is not None


def _is_json(content_type: str | None) -> bool:
    # The media types FastAPI reads as JSON: application/json and application/*+json.
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


@dataclass(frozen=True)
class _Dependency:
    name: str
    call: Callable[..., Awaitable[Any]]
    request_name: str


@dataclass(frozen=True)
class _LeanPlan:
    endpoint: Callable[..., Awaitable[Response]]
    body_name: str
    body_model: type[BaseModel]
    path_fields: Sequence[Any]  # FastAPI's ModelFields of the path parameters
    request_name: str
    dependencies: Sequence[_Dependency]
    overrides: Any

    @classmethod
    def of(cls, dependant: Dependant | None, overrides: Any) -> _LeanPlan | None:
        """The plan for an endpoint of the supported shape, else None (FastAPI handles it)."""

        if dependant is None or dependant.call is None or not _only_request_and(dependant, "path", "body"):
            return None
        if len(dependant.body_params) != 1 or dependant.request_param_name is None:
            return None
        body = dependant.body_params[0]
        model = body.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if not _whole_json_body(body.field_info):
            return None
        dependencies = [_dependency(sub) for sub in dependant.dependencies]
        if any(dependency is None for dependency in dependencies) or not _answers_itself(dependant.call):
            return None
        return cls(
            dependant.call,
            body.name,
            model,
            tuple(dependant.path_params),
            dependant.request_param_name,
            tuple(dependency for dependency in dependencies if dependency is not None),
            overrides,
        )

    def handler(self, generic: Handler) -> Handler:
        async def lean_handler(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")) or self._overridden():
                return await generic(request)
            raw = await request.body()
            if not raw:  # FastAPI says the body is missing
                return await generic(request)
            values: dict[str, Any] = {self.request_name: request}
            try:
                values[self.body_name] = self.body_model.model_validate_json(raw)
                for field in self.path_fields:
                    value, errors = field.validate(
                        request.path_params.get(field.alias), loc=("path", field.alias)
                    )
                    if errors:
                        return await generic(request)
                    values[field.name] = value
            except ValidationError:
                return await generic(request)
            for dependency in self.dependencies:
                values[dependency.name] = await dependency.call(**{dependency.request_name: request})
            return await self.endpoint(**values)

        return lean_handler

    def _overridden(self) -> bool:
        overrides = getattr(self.overrides, "dependency_overrides", None)
        return bool(overrides)


def _whole_json_body(info: Any) -> bool:
    """A JSON body that is the model itself: not embedded under its name, not a form."""

    return isinstance(info, params.Body) and not isinstance(info, params.Form) and not info.embed


def _only_request_and(dependant: Dependant, *allowed: str) -> bool:
    """Whether ``dependant`` takes nothing but the Request, its dependencies and the
    parameters of the ``allowed`` kinds (path, body)."""

    kinds = {
        "path": dependant.path_params,
        "query": dependant.query_params,
        "header": dependant.header_params,
        "cookie": dependant.cookie_params,
        "body": dependant.body_params,
    }
    specials = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    return all(not params for kind, params in kinds.items() if kind not in allowed) and not any(specials)


def _dependency(sub: Dependant) -> _Dependency | None:
    """A dependency that takes only the Request and returns its value (no generator, no
    sub-dependency), else None."""

    call = sub.call
    if call is None or sub.name is None or sub.request_param_name is None or sub.dependencies:
        return None
    if not _only_request_and(sub) or not inspect.iscoroutinefunction(call):
        return None
    return _Dependency(sub.name, call, sub.request_param_name)


def _answers_itself(endpoint: Callable[..., Any]) -> bool:
    """Whether the endpoint is a coroutine that returns a ``Response`` (so that nothing of
    FastAPI's response handling, a response model's validation, is skipped)."""

    if not inspect.iscoroutinefunction(endpoint):
        return False
    try:
        returned = typing.get_type_hints(endpoint).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Response)
