"""JSON API under /api/v1. Thin: validate, call the engine (app.service), send the bytes.

Handlers are plain ``def``: FastAPI runs them in its thread pool, so NumPy work never blocks
the event loop. The server keeps no state between requests.
"""

# No `from __future__ import annotations` here: FastAPI reads the body models, which are built
# per set of limits, from the handlers' annotations at definition time.

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from bptt_studio import __version__, export, jsonio, service
from bptt_studio.body import JSONBodyRoute
from bptt_studio.engine import RequestError
from bptt_studio.errors import ApiError, engine_error, error_body, validation_errors
from bptt_studio.schemas import (
    ERROR_RESPONSES,
    GradcheckResult,
    Health,
    Preset,
    Schemas,
    TraceResult,
    TrainResult,
    build_schemas,
)
from bptt_studio.settings import Settings

PREFIX = "/api/v1"


def build_router(settings: Settings) -> APIRouter:
    schemas = build_schemas(settings)
    TraceBody = schemas.trace_body  # noqa: N806 - classes, named as such
    TrainBody = schemas.train_body  # noqa: N806
    GradcheckBody = schemas.trace_request  # noqa: N806
    router = APIRouter(prefix=PREFIX, tags=["api"], route_class=JSONBodyRoute)
    presets_bytes = service.presets()

    @router.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @router.get("/presets", response_model=list[Preset],
                summary="The scenarios: id, title, description and the request of each")
    def presets() -> Response:
        return jsonio.response(presets_bytes)

    @router.post("/trace", response_model=TraceResult, responses=ERROR_RESPONSES,
                 summary="One recorded pass of BPTT: every forward, backward and update step")
    def trace(body: TraceBody) -> Response:  # type: ignore[valid-type]
        return jsonio.response(service.compute("trace", *service.split(body), settings))

    @router.post("/train", response_model=TrainResult, responses=ERROR_RESPONSES,
                 summary="Train for some passes: loss and gradient-norm curves, final "
                         "parameters, predictions, optionally the last pass's trace")
    def train(body: TrainBody) -> Response:  # type: ignore[valid-type]
        return jsonio.response(service.compute("train", *service.split(body), settings))

    @router.post("/gradcheck", response_model=GradcheckResult, responses=ERROR_RESPONSES,
                 summary="Every analytic gradient against central finite differences")
    def gradcheck(body: GradcheckBody) -> Response:  # type: ignore[valid-type]
        return jsonio.response(service.compute("gradcheck", *service.split(body), settings))

    @router.post("/export/torch", response_class=Response, responses={
                     **ERROR_RESPONSES, 200: export.OPENAPI_RESPONSE},
                 summary="Check it in PyTorch: a script that redoes the pass with autograd "
                         "and compares every state, gradient and update (same body as /trace)")
    def export_torch(body: TraceBody) -> Response:  # type: ignore[valid-type]
        return export.response(export.script_bytes(*service.split(body), settings))

    return router


def install_error_handlers(app: FastAPI, schemas: Schemas) -> None:
    """Every API error as {"detail": [{"loc", "msg", "type"}]} (see app.errors)."""
    roots = {f"{PREFIX}/trace": schemas.trace_body, f"{PREFIX}/train": schemas.train_body,
             f"{PREFIX}/gradcheck": schemas.trace_request,
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
        return jsonio.response(exc.body(), exc.status_code)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(RequestError, on_request_error)
    app.add_exception_handler(ApiError, on_api_error)
