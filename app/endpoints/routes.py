"""The JSON API under /api/v1, made from the registry. Thin: validate, compute, send.

Every route is ``async``: validation happens on the event loop (a bad request is answered at
once), and a computation's work runs in a child process of the worker's ``ComputePool``
(app/serving/runner.py), which ends it at the deadline or when the client leaves. Nothing
waits in a thread pool, so ``/api/v1/health`` answers while every computation slot is busy.
The server keeps no state between requests.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.responses import Response

from bptt_studio.core import jsonio
from bptt_studio.core.errors import (
    ApiError,
    ErrorBody,
    engine_error,
    error_body,
    validation_errors,
)
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.endpoint import Computation, Lookup
from bptt_studio.endpoints.registry import ENDPOINTS
from bptt_studio.endpoints.schemas import ERROR_RESPONSES, build_schemas
from bptt_studio.engine import RequestError
from bptt_studio.serving.body import JSONBodyRoute
from bptt_studio.serving.runner import ClientGone, ComputePool

PREFIX = "/api/v1"
# Refusals of the serving layer (app/serving/runner.py), on top of the request's own errors.
SERVING_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "busy: every computation process is taken and "
                                             "the queue is full (or the wait was too long); "
                                             "the Retry-After header says when to try again"},
    504: {"model": ErrorBody, "description": "the computation passed the server's deadline "
                                             "(BPTT_COMPUTE_DEADLINE_S) and was stopped"},
}
COMPUTE_RESPONSES = {**ERROR_RESPONSES, **SERVING_RESPONSES}
# Answer to a client that left before its result: nobody reads it (nginx logs this code).
CLIENT_CLOSED = 499


async def client_left(request: Request) -> None:
    """Returns when the client closes its connection (its body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def install(app: FastAPI, settings: Settings, pool: ComputePool) -> None:
    """Every endpoint of the registry as a route of ``app``, their work computed in ``pool``,
    and every API error as {"detail": [{"loc", "msg", "type"}]} (see app.core.errors)."""
    schemas = build_schemas(settings)
    router = APIRouter(prefix=PREFIX, tags=["api"], route_class=JSONBodyRoute)
    bodies: dict[str, type[BaseModel]] = {}  # path -> the body model its errors are named in
    for endpoint in ENDPOINTS:
        if isinstance(endpoint, Lookup):
            router.add_api_route(f"/{endpoint.path}", endpoint.handler, methods=["GET"],
                                 response_model=endpoint.response_model,
                                 summary=endpoint.summary)
            continue
        body = endpoint.body(schemas, settings)
        bodies[f"{PREFIX}/{endpoint.path}"] = body
        extra: dict[str, Any] = {"response_model": endpoint.response_model,
                                 "responses": COMPUTE_RESPONSES}
        if endpoint.openapi_200 is not None:
            extra = {"response_class": Response,
                     "responses": {**COMPUTE_RESPONSES, 200: endpoint.openapi_200}}
        router.add_api_route(f"/{endpoint.path}", _route(endpoint, body, settings, pool),
                             methods=["POST"], name=endpoint.name, summary=endpoint.summary,
                             **extra)
    app.include_router(router)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc.errors(), bodies.get(request.url.path), schemas.limits,
                                   schemas.tags)
        return jsonio.response(error_body(errors), 422)

    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return jsonio.response(error_body([engine_error(exc.loc, exc.msg)]), 422)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return jsonio.response(exc.body(), exc.status_code, exc.headers)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(RequestError, on_request_error)
    app.add_exception_handler(ApiError, on_api_error)


def _route(endpoint: Computation, body: type[BaseModel], settings: Settings,
           pool: ComputePool) -> Callable[..., Coroutine[Any, Any, Response]]:
    """The handler of a computation: its body split, admitted and run in ``pool``."""

    async def handle(request: Request, body: BaseModel) -> Response:
        fields, options = endpoint.split(body)
        try:
            content = await pool.compute(lambda: endpoint.work(fields, options, settings),
                                         lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return endpoint.respond(content)

    # FastAPI reads the body's model from the handler's signature; the model is made per set
    # of limits, so the signature is written here.
    parameter = inspect.Parameter.POSITIONAL_OR_KEYWORD
    handle.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("request", parameter, annotation=Request),
         inspect.Parameter("body", parameter, annotation=body)], return_annotation=Response)
    return handle
