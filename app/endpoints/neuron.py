"""POST /api/v1/neuron: one hidden unit's delta at one backward step, term by term (Haykin's
neuron-level BPTT; engine.neuron, docs/neuron.md).

The body is /trace's request plus the position of the unit (``t``, ``unit``, ``update``) and
the sign convention; the view is made from the recorded pass in a computation process.
"""

# No `from __future__ import annotations` here: pydantic reads the models' annotations.

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, Field, create_model

from bptt_studio import engine
from bptt_studio.core.jsonio import all_finite, dumps
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.schemas import Schemas, _json_integer
from bptt_studio.engine import Plan
from bptt_studio.engine.cells.registry import CELLS
from bptt_studio.engine.outputs.neuron import (
    check_direction,
    check_example,
    check_fixed,
    check_layer,
)
from bptt_studio.engine.request.fields import MAX_EXAMPLES, MAX_LAYERS

Convention = Literal["gradient", "haykin"]
Direction = Literal["forward", "reverse"]
# The registered cells (engine.cells.CELLS), as the request's enum names them
CellName: Any = Literal[tuple(CELLS)]


# ---------------------------------------------------------------------------------------------
# The work: the plan and the run (plain values in, bytes out).


def plan(request: dict[str, Any], options: dict[str, Any]) -> Plan:
    job = engine.plan(request)
    check_example(len(job.data.examples), options.get("example"))  # before any computation
    check_layer(job.request.num_layers, options.get("layer"))
    check_direction(job.request.bidirectional, options.get("direction"))
    check_fixed(job.request.truncation)
    if job.request.bug is not None:
        raise engine.RequestError(("bug",), "the neuron view writes each term as the true "
                                            "equations give it, and a planted bug's numbers do "
                                            "not follow them: hunt the bug in /trace, beside "
                                            "the true pass")
    return job


def run(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The neuron view (engine.neuron) of unit ``unit`` at step ``t`` as JSON bytes."""
    with np.errstate(all="ignore"):
        view = engine.neuron(job, options["t"], options["unit"], options.get("update"),
                             options.get("convention", "gradient"), options.get("example"),
                             options.get("layer"), options.get("direction"))
    view["non_finite"] = not all_finite(view)
    return dumps(view)


# ---------------------------------------------------------------------------------------------
# The body.


def body(schemas: Schemas, settings: Settings) -> type[BaseModel]:
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
        example=(Annotated[int, Field(ge=0, lt=MAX_EXAMPLES), BeforeValidator(_json_integer)]
                 | None,
                 Field(None, description="a mini-batch's example whose unit to read (0-based; "
                                         "null = example 0); only with data.batch")),
        layer=(Annotated[int, Field(ge=1, le=MAX_LAYERS), BeforeValidator(_json_integer)]
               | None,
               Field(None, description="a stack's layer whose unit to read (1-based, bottom "
                                       "first; null = the top layer); only with num_layers > 1")),
        direction=(Direction | None,
                   Field(None, description='a bidirectional layer\'s network whose unit to '
                                           'read ("forward", or "reverse": the one over '
                                           't = T..1; null = "forward"); only with '
                                           'bidirectional')),
    )
    return model


# ---------------------------------------------------------------------------------------------
# The response, for the OpenAPI document (the bytes are ``run``'s).


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
        description="step t+1 of the window (t-1 of a reverse network: its next step in its "
                    "own time) and its parameter version; null at the window's last step "
                    "(nothing flows back from t+1)")
    convention: Convention
    example: int | None = Field(None, description="a mini-batch's example the unit belongs to "
                                                  "(0-based); absent for one sequence")
    layer: int | None = Field(None, description="a stack's layer the unit belongs to (1-based); "
                                                "absent for one layer")
    direction: Direction | None = Field(
        None, description="a bidirectional layer's network the unit belongs to (its next step "
                          "is t-1 when reverse); absent for one direction")
    activation: str | None = Field(None, description="rnn: phi")
    dh: Node = Field(description="dh_j(t) = dh_out_j(t) + dh_next_j(t); below a stack's top "
                                 "dh_above_j(t) + dh_next_j(t)")
    delta: Node | None = Field(
        None, description="rnn: delta_j(t) = phi'(a_j(t)) dh_j(t)")
    dc: Node | None = Field(None, description="lstm: dc_j(t), its two paths")
    deltas: dict[str, Node] | None = Field(
        None, description="lstm, gru: each gate's delta_j(t) as the product of its factors")
    non_finite: bool
