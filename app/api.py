"""JSON API under /api/v1. Thin: validate, compute (app.service, in a child process), send.

Every handler is ``async``: validation happens on the event loop (a bad request is answered at
once), and the NumPy work runs in a child process of the worker's ``ComputePool``
(app/runner.py), which ends it at the deadline or when the client leaves. Nothing waits in a
thread pool, so ``/api/v1/health`` answers while every computation slot is busy. The server
keeps no state between requests.
"""

# No `from __future__ import annotations` here: FastAPI reads the body models, which are built
# per set of limits, from the handlers' annotations at definition time.

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.responses import Response

from bptt_studio import __version__, export, jsonio, service
from bptt_studio.body import JSONBodyRoute
from bptt_studio.engine import RequestError
from bptt_studio.errors import ApiError, engine_error, error_body, validation_errors
from bptt_studio.runner import ClientGone, ComputePool
from bptt_studio.schemas import (
    ERROR_RESPONSES,
    ErrorBody,
    GradcheckResult,
    Health,
    ParamsResult,
    Preset,
    Schemas,
    TraceResult,
    TrainResult,
    build_schemas,
)
from bptt_studio.settings import Settings

PREFIX = "/api/v1"
# Refusals of the serving layer (app/runner.py), on top of the request's own errors.
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


def build_router(settings: Settings, pool: ComputePool) -> APIRouter:
    schemas = build_schemas(settings)
    TraceBody = schemas.trace_body  # noqa: N806 - classes, named as such
    TrainBody = schemas.train_body  # noqa: N806
    GradcheckBody = schemas.trace_request  # noqa: N806
    router = APIRouter(prefix=PREFIX, tags=["api"], route_class=JSONBodyRoute)
    presets_bytes = service.presets()

    async def compute(endpoint: str, request: Request, body: BaseModel) -> Response:
        try:
            output = await pool.compute(endpoint, *service.split(body),
                                        lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return jsonio.response(output)

    # async, so it never waits in a thread pool; HEAD too (app.protocol.HeadAsGetMiddleware),
    # as some load balancers probe with HEAD.
    @router.get("/health", response_model=Health, summary="The server is up")
    async def health() -> Health:
        return Health(status="ok", version=__version__)

    @router.get("/presets", response_model=list[Preset],
                summary="The scenarios: id, title, description and the request of each")
    async def presets() -> Response:
        return jsonio.response(presets_bytes)

    @router.post("/trace", response_model=TraceResult, responses=COMPUTE_RESPONSES,
                 summary="One recorded pass of BPTT: every forward, backward and update step")
    async def trace(request: Request, body: TraceBody) -> Response:  # type: ignore[valid-type]
        return await compute("trace", request, body)

    @router.post("/train", response_model=TrainResult, responses=COMPUTE_RESPONSES,
                 summary="Train for some passes: loss and gradient-norm curves, final "
                         "parameters, predictions, optionally the last pass's trace")
    async def train(request: Request, body: TrainBody) -> Response:  # type: ignore[valid-type]
        return await compute("train", request, body)

    @router.post("/gradcheck", response_model=GradcheckResult, responses=COMPUTE_RESPONSES,
                 summary="Every analytic gradient against central finite differences")
    async def gradcheck(request: Request,
                        body: GradcheckBody) -> Response:  # type: ignore[valid-type]
        return await compute("gradcheck", request, body)

    @router.post("/params", response_model=ParamsResult, responses=COMPUTE_RESPONSES,
                 summary="The initial parameters and state a trace of the same request starts "
                         "from (seed, forget_bias and spectral_radius applied), without the pass")
    async def params(request: Request, body: TraceBody) -> Response:  # type: ignore[valid-type]
        return await compute("params", request, body)

    @router.post("/export/torch", response_class=Response, responses={
                     **COMPUTE_RESPONSES, 200: export.OPENAPI_RESPONSE},
                 summary="Check it in PyTorch: a script that redoes the pass with autograd "
                         "and compares every state, gradient and update (same body as /trace)")
    async def export_torch(request: Request,
                           body: TraceBody) -> Response:  # type: ignore[valid-type]
        # in the computation processes, like /trace (app.derived dispatches "export_torch")
        try:
            output = await pool.compute("export_torch", *service.split(body),
                                        lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return export.response(output)

    return router


def install_error_handlers(app: FastAPI, schemas: Schemas) -> None:
    """Every API error as {"detail": [{"loc", "msg", "type"}]} (see app.errors)."""
    roots = {f"{PREFIX}/trace": schemas.trace_body, f"{PREFIX}/train": schemas.train_body,
             f"{PREFIX}/gradcheck": schemas.trace_request, f"{PREFIX}/params": schemas.trace_body,
             f"{PREFIX}/export/torch": schemas.trace_body}

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc.errors(), roots.get(request.url.path), schemas.limits,
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
