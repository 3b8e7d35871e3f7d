"""POST /api/v1/neuron, POST /api/v1/export/csv and POST /api/v1/sample: routes, request and
response models (/sample's are app.sampling's).

Included from app.main with one line (``app.include_router(derived_api.build_router(settings))``).
The work runs through ``app.derived`` (plain values in, bytes out), in the worker's computation
processes (app/runner.py). The bodies are /trace's
request plus each endpoint's own fields; their validation errors name the field exactly as
/trace's do (this router formats them itself, with its own models as the root).
"""

# No `from __future__ import annotations` here: FastAPI reads the body models, which are built
# per set of limits, from the handlers' annotations at definition time.

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, Field, create_model
from starlette.requests import Request
from starlette.responses import Response

from bptt_studio import derived, jsonio, sampling
from bptt_studio.api import CLIENT_CLOSED, SERVING_RESPONSES, client_left
from bptt_studio.body import JSONBodyRoute
from bptt_studio.engine.cells.registry import CELLS
from bptt_studio.errors import error_body, validation_errors
from bptt_studio.runner import ClientGone, ComputePool
from bptt_studio.schemas import ERROR_RESPONSES, Schemas, _json_integer, build_schemas
from bptt_studio.settings import Settings

PREFIX = "/api/v1"

Convention = Literal["gradient", "haykin"]
# The registered cells (engine.cells.CELLS), as the request's enum names them
CellName: Any = Literal[tuple(CELLS)]


# ---------------------------------------------------------------------------------------------
# Response models (for the OpenAPI document; the bytes come from app.derived).


class WeightRef(BaseModel):
    name: str = Field(description='the parameter: "V", "W", "W_f", ..., "W_h"')
    version: int = Field(description="its version: the number of updates applied before it")
    column: int = Field(description="the column read: the unit j (0-based)")


class SignalRef(BaseModel):
    name: str = Field(description='the error vector: "g_o", "delta", "deltas.f", ...')
    t: int = Field(description="the step it belongs to (1-based)")


class Node(BaseModel):
    """One number of the view and how it is made (docs/neuron.md)."""

    name: str = Field(description='what it is: "dh", "dh_out", "deltas.f", "phi_prime", ...')
    t: int = Field(description="the step of the quantity (1-based)")
    op: Literal["sum", "product", "dot", "value"]
    value: float | None = Field(description="null where it overflowed")
    recorded: bool = Field(description="true: the trace's own number; false: formed here "
                                       "from recorded numbers")
    kind: Literal["error", "state", "derivative"] | None = Field(
        None, description="leaves only")
    of: list["Node"] | None = Field(
        None, description="derivative leaves: the recorded values they are formed from")
    terms: list["Node"] | None = Field(None, description="sum: its terms")
    factors: list["Node"] | None = Field(
        None, description="product: its factors")
    weight: WeightRef | None = Field(None, description="dot: the weights' column")
    signal: SignalRef | None = Field(None, description="dot: the error vector")
    weights: list[float | None] | None = None
    signals: list[float | None] | None = None
    products: list[float | None] | None = Field(
        None, description="dot: weights[k] * signals[k]; value is their sum")


class NextStep(BaseModel):
    t: int
    version: int


class NeuronResult(BaseModel):
    """delta_j(t) of one hidden unit at one backward step, term by term (docs/neuron.md)."""

    cell: CellName
    t: int = Field(description="the step (1-based)")
    unit: int = Field(description="the hidden unit j (0-based)")
    update: int = Field(description="the update whose backward window this is (0-based)")
    window: list[int] = Field(description="[first, last] steps of that window")
    version: int = Field(description="parameter version step t ran on")
    next: NextStep | None = Field(
        description="step t+1 of the window and its parameter version; null at the window's "
                    "last step (nothing flows back from t+1)")
    convention: Convention
    activation: str | None = Field(None, description="rnn: phi")
    dh: Node = Field(description="dh_j(t) = dh_out_j(t) + dh_next_j(t)")
    delta: Node | None = Field(
        None, description="rnn: delta_j(t) = phi'(a_j(t)) dh_j(t)")
    dc: Node | None = Field(None, description="lstm: dc_j(t), its two paths")
    deltas: dict[str, Node] | None = Field(
        None, description="lstm, gru: each gate's delta_j(t) as the product of its factors")
    non_finite: bool


CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the tidy CSV (docs/export-csv.md), as an attachment",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
    **ERROR_RESPONSES,
    **SERVING_RESPONSES,
}


# ---------------------------------------------------------------------------------------------
# Request models.


def neuron_body(schemas: Schemas, settings: Settings) -> type[BaseModel]:
    """/trace's request plus the position of the unit and the sign convention."""
    convention: Any = (Convention, Field(
        "gradient", description='"gradient": delta = dL/da as in the trace; "haykin": '
                                'delta = -dE/dv, every error quantity negated'))
    model: type[BaseModel] = create_model(
        "NeuronApiRequest", __base__=schemas.trace_request,
        t=(Annotated[int, Field(ge=1, le=settings.max_seq_len), BeforeValidator(_json_integer)],
           Field(description="the backward step (1-based); 1..T, inside the window")),
        unit=(Annotated[int, Field(ge=0, lt=settings.max_hidden_size),
                        BeforeValidator(_json_integer)],
              Field(description="the hidden unit j (0-based); 0..hidden_size-1")),
        update=(Annotated[int, Field(ge=0, le=settings.max_seq_len - 1),
                          BeforeValidator(_json_integer)] | None,
                Field(None, description="the update whose window to read (0-based; a pass "
                                        "makes at most one update per step); null = the "
                                        "first window that holds t")),
        convention=convention,
    )
    return model


def _route_class(roots: dict[str, type[BaseModel]], schemas: Schemas) -> type[APIRoute]:
    """JSONBodyRoute whose validation errors name the fields against this router's models."""

    class DerivedRoute(JSONBodyRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            root = roots.get(self.path_format)

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    errors = validation_errors(exc.errors(), root, schemas.limits, schemas.tags)
                    return jsonio.response(error_body(errors), 422)

            return handle

    return DerivedRoute


def build_router(settings: Settings, pool: ComputePool) -> APIRouter:
    """The three routes; their work runs in ``pool``'s computation processes, as /trace's does
    (a deadline, a departed client and the queue bound apply alike)."""
    schemas = build_schemas(settings)
    NeuronBody = neuron_body(schemas, settings)  # noqa: N806 - classes, named as such
    CsvBody = schemas.trace_body  # noqa: N806 - /trace's body: the request plus detail
    SampleBody = sampling.sample_body(schemas, settings)  # noqa: N806
    roots = {f"{PREFIX}/neuron": NeuronBody, f"{PREFIX}/export/csv": CsvBody,
             f"{PREFIX}/sample": SampleBody}
    router = APIRouter(prefix=PREFIX, tags=["api"], route_class=_route_class(roots, schemas))

    @router.post("/neuron", response_model=NeuronResult,
                 responses={**ERROR_RESPONSES, **SERVING_RESPONSES},
                 summary="One hidden unit's delta at one backward step, term by term "
                         "(Haykin's neuron-level BPTT)")
    async def neuron(request: Request,
                     body: NeuronBody) -> Response:  # type: ignore[valid-type]
        try:
            output = await pool.compute("neuron", *derived.split(body, derived.NEURON_OPTIONS),
                                        lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return jsonio.response(output)

    @router.post("/export/csv", response_class=Response, responses=CSV_RESPONSES,
                 summary="The whole trace as one tidy CSV: one row per number")
    async def export_csv(request: Request,
                         body: CsvBody) -> Response:  # type: ignore[valid-type]
        try:
            content = await pool.compute("export_csv",
                                         *derived.split(body, derived.CSV_OPTIONS),
                                         lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return Response(content=content, media_type=derived.CSV_MEDIA_TYPE, headers={
            "Content-Disposition": f'attachment; filename="{derived.CSV_FILENAME}"'})

    @router.post("/sample", response_model=sampling.SampleResult,
                 responses={**ERROR_RESPONSES, **SERVING_RESPONSES},
                 summary="The text the network writes after training: each token drawn at a "
                         "temperature with its top 5, the perplexity, teacher forcing against "
                         "free running (app.sampling)")
    async def sample(request: Request,
                     body: SampleBody) -> Response:  # type: ignore[valid-type]
        try:
            output = await pool.compute("sample",
                                        *derived.split(body, sampling.SAMPLE_OPTIONS),
                                        lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return jsonio.response(output)

    return router
