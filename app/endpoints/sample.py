"""POST /api/v1/sample (and ``bptt-studio sample``): the text a trained network writes.

The body is /trace's request plus the sampler's options (``iterations`` training passes, 0 or
more; ``prime``, ``length`` up to 500, ``temperature`` > 0, ``sample_seed``); the work is
engine.sample, admitted like every endpoint (planned once, judged by the limits and the cost
model: the training passes, then every step the sampler reads and writes) and run in the
worker's computation processes.
"""

# No `from __future__ import annotations` here: FastAPI reads the body models, which are built
# per set of limits, from the handlers' annotations at definition time.

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, Field, Strict, create_model

from bptt_studio import engine
from bptt_studio.core import jsonio
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.schemas import Schemas, _json_integer
from bptt_studio.engine import Plan
from bptt_studio.engine.request.fields import SEED_MAX
from bptt_studio.engine.tasks.sample import MAX_LENGTH, MAX_TEMPERATURE, sample

# ---------------------------------------------------------------------------------------------
# The work: the plan and the run (plain values in, bytes out).


def plan(request: dict[str, Any], options: dict[str, Any]) -> Plan:
    """The training passes, then every step the sampler reads and writes."""
    return engine.plan(request, task="sample", iterations=options["iterations"],
                       sample_length=options["length"])


def run(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    with np.errstate(all="ignore"):
        result = sample(job, options["iterations"], options.get("prime"), options["length"],
                        options["temperature"], options["sample_seed"])
    return jsonio.dumps(result)


# ---------------------------------------------------------------------------------------------
# The body and the response, for the OpenAPI document.


def body(schemas: Schemas, settings: Settings) -> type[BaseModel]:
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
    p: float | None = Field(description="its probability; null when training overflowed")


class SampledStep(BaseModel):
    token: str = Field(description="the token drawn")
    p: float | None = Field(description="its probability at the temperature; null when "
                                         "training overflowed (non_finite)")
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
