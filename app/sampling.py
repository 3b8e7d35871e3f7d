"""POST /api/v1/sample and ``bptt-studio sample``: the text a trained network writes.

The body is /trace's request plus the sampler's options (``iterations`` training passes, 0 or
more; ``prime``, ``length`` up to 500, ``temperature`` > 0, ``sample_seed``); the work is
engine.sample, admitted like every endpoint (planned once, judged by the limits and the cost
model: the training passes, then every step the sampler reads and writes) and run in the
worker's computation processes (registered in ``app.derived.ENDPOINTS``). The CLI command
prints the same bytes.
"""

# No `from __future__ import annotations` here: FastAPI reads the body models, which are built
# per set of limits, from the handlers' annotations at definition time.

import argparse
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, BeforeValidator, Field, Strict, create_model
from starlette.requests import Request
from starlette.responses import Response

from bptt_studio import engine, jsonio, limits
from bptt_studio.engine import Plan
from bptt_studio.engine.request import SEED_MAX
from bptt_studio.engine.sample import MAX_LENGTH, MAX_TEMPERATURE, sample
from bptt_studio.schemas import ERROR_RESPONSES, Schemas, _json_integer, build_schemas
from bptt_studio.settings import Settings

PREFIX = "/api/v1"
SAMPLE_OPTIONS = frozenset({"iterations", "prime", "length", "temperature", "sample_seed"})


# ---------------------------------------------------------------------------------------------
# The work: admission and run (plain values in, bytes out; app.derived dispatches them).


def admit_sample(request: dict[str, Any], options: dict[str, Any], settings: Settings) -> Plan:
    job = engine.plan(request, task="sample", iterations=options["iterations"],
                      sample_length=options["length"])
    limits.check(job, settings, limits.response(settings, "json"))
    return job


def sample_bytes(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    with np.errstate(all="ignore"):
        result = sample(job, options["iterations"], options.get("prime"), options["length"],
                        options["temperature"], options["sample_seed"])
    return jsonio.dumps(result)


# ---------------------------------------------------------------------------------------------
# The body and the response, for the OpenAPI document.


def sample_body(schemas: Schemas, settings: Settings) -> type[BaseModel]:
    """/trace's request plus the sampler's options."""
    integer = BeforeValidator(_json_integer)
    model: type[BaseModel] = create_model(
        "SampleApiRequest", __base__=schemas.trace_request,
        iterations=(Annotated[int, Field(ge=0, le=settings.max_iterations), integer], Field(
            0, description="training passes before writing (/train's loop); 0 writes from "
                           "the request's parameters as they are (explicit params, or drawn "
                           "from seed)")),
        prime=(Annotated[str, Strict(), Field(min_length=1, max_length=MAX_LENGTH)] | None,
               Field(None, description="what the network reads before it writes: characters "
                                       "(text) or words separated by spaces (words), each in "
                                       "the data's vocabulary; null = the data's first token")),
        length=(Annotated[int, Field(ge=1, le=MAX_LENGTH), integer], Field(
            100, description="tokens to write")),
        temperature=(Annotated[float, Field(gt=0, le=MAX_TEMPERATURE, strict=True,
                                            allow_inf_nan=False)], Field(
            1.0, description="p = softmax((o - max o) / temperature): below 1 sharper, above "
                             "1 flatter; towards 0 the arg-max")),
        sample_seed=(Annotated[int, Field(ge=0, le=SEED_MAX), integer], Field(
            0, description="seed of the draws (the request's own seed draws the initial "
                           "parameters)")),
    )
    return model


class TopToken(BaseModel):
    token: str
    p: float


class SampledStep(BaseModel):
    token: str = Field(description="the token drawn")
    p: float = Field(description="its probability at the temperature")
    top: list[TopToken] = Field(description="the 5 most probable tokens, most probable first")


class TeacherForcing(BaseModel):
    inputs: list[str] = Field(description="the true tokens fed in, x(1..T)")
    targets: list[str] = Field(description="the true next tokens, y(1..T)")
    predicted: list[str] = Field(description="the network's arg-max at each step")
    p_target: list[float | None] = Field(description="the probability it gives y(t)")


class FreeRunning(BaseModel):
    tokens: list[str] = Field(description="what it writes fed its own samples from x(1)")
    p: list[float | None]


class SampleResult(BaseModel):
    prime: str
    text: str = Field(description="the tokens written after the prime, joined")
    joiner: str = Field(description='how tokens join into text: "" (characters) or " " (words)')
    steps: list[SampledStep]
    length: int
    temperature: float
    sample_seed: int
    iterations: int
    vocab: list[str]
    mean_loss: float | None = Field(description="mean cross-entropy per token of the data "
                                                "under the network (temperature 1)")
    perplexity: float | None = Field(description="exp(mean_loss)")
    teacher_forcing: TeacherForcing
    free_running: FreeRunning
    parts_at: int | None = Field(description="the first step (1-based) whose token written "
                                             "free running differs from the text's; null: none")
    non_finite: bool


# ---------------------------------------------------------------------------------------------
# The route and the command.


def build_router(settings: Settings, pool: Any) -> APIRouter:
    from bptt_studio.api import CLIENT_CLOSED, SERVING_RESPONSES, client_left
    from bptt_studio.derived import split
    from bptt_studio.derived_api import _route_class
    from bptt_studio.runner import ClientGone

    schemas = build_schemas(settings)
    SampleBody = sample_body(schemas, settings)  # noqa: N806 - a class, named as such
    router = APIRouter(prefix=PREFIX, tags=["api"], route_class=_route_class(
        {f"{PREFIX}/sample": SampleBody}, schemas))

    @router.post("/sample", response_model=SampleResult,
                 responses={**ERROR_RESPONSES, **SERVING_RESPONSES},
                 summary="The text the network writes after training: each token drawn at a "
                         "temperature with its top 5, the perplexity, teacher forcing against "
                         "free running")
    async def sample_route(request: Request,
                           body: SampleBody) -> Response:  # type: ignore[valid-type]
        try:
            output = await pool.compute("sample", *split(body, SAMPLE_OPTIONS),
                                        lambda: client_left(request))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        return jsonio.response(output)

    return router


def _command(args: argparse.Namespace) -> int:
    from bptt_studio import derived
    from bptt_studio.cli import run_request

    overrides = {"iterations": args.iterations, "prime": args.prime, "length": args.length,
                 "temperature": args.temperature, "sample_seed": args.sample_seed}
    return run_request(args, overrides, sample_body,
                       lambda body, settings: derived.compute(
                           "sample", *derived.split(body, SAMPLE_OPTIONS), settings))


def add_command(commands: Any) -> None:
    """``bptt-studio sample``: the bytes of POST /api/v1/sample."""
    from bptt_studio.cli import _add_request_options

    parser = commands.add_parser(
        "sample", help="print the JSON of POST /api/v1/sample: the text the network writes "
                       "after training")
    _add_request_options(parser)
    parser.add_argument("--iterations", type=int, help="training passes first (default 0)")
    parser.add_argument("--prime", help="what it reads first (default: the data's first token)")
    parser.add_argument("--length", type=int, help=f"tokens to write (1 to {MAX_LENGTH}; "
                                                   f"default 100)")
    parser.add_argument("--temperature", type=float, help="> 0 (default 1)")
    parser.add_argument("--sample-seed", type=int, help="seed of the draws (default 0)")
    parser.set_defaults(func=_command)
