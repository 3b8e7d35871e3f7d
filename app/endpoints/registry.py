"""Every endpoint of the API under /api/v1, declared once, in the order the OpenAPI document
lists them. The routes (app/endpoints/routes.py), the ``bptt-studio`` commands (app/cli.py)
and the work the computation processes run (app/serving/runner.py) are all made from these
declarations (app/endpoints/endpoint.py says what each field means).

A new endpoint is one module with its work (its plan and its run, as in
app/endpoints/export_csv.py; its body and response models when they are its own) and one
entry here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from bptt_studio.core.settings import Settings
from bptt_studio.endpoints import bugs, export_csv, export_torch, info, neuron, sample, tasks
from bptt_studio.endpoints.endpoint import (
    Command,
    Computation,
    Endpoint,
    Lookup,
    option,
    positive,
)
from bptt_studio.endpoints.schemas import (
    GradcheckResult,
    Health,
    ParamsResult,
    Preset,
    Schemas,
    TraceResult,
    TrainResult,
)

DETAIL = option("--detail", choices=["auto", "full", "norms", "summary"],
                help='full matrices, their norms, "auto" (full while small), or "summary" '
                     '(no events), as the API')


def _trace_body(schemas: Schemas, settings: Settings) -> Any:
    return schemas.trace_body  # the engine's request + detail


def _train_body(schemas: Schemas, settings: Settings) -> Any:
    return schemas.train_body


def _csv_body(schemas: Schemas, settings: Settings) -> Any:
    return schemas.csv_body  # the engine's request + detail (no summary: rows are events)


def _request(schemas: Schemas, settings: Settings) -> Any:
    return schemas.trace_request  # the engine's request alone


ENDPOINTS: tuple[Endpoint, ...] = (
    Lookup("health", "The server is up", Health, info.health),
    Lookup("presets", "The scenarios: id, title, description and the request of each",
           list[Preset], info.presets),
    Computation(
        "trace", "One recorded pass of BPTT: every forward, backward and update step",
        body=_trace_body, plan=partial(tasks.plan, task="trace"), run=tasks.trace,
        response_model=TraceResult,
        command=Command("print the JSON of POST /api/v1/trace", (DETAIL,))),
    Computation(
        "train", "Train for some passes: loss and gradient-norm curves, final parameters, "
                 "predictions, optionally the last pass's trace",
        body=_train_body, plan=partial(tasks.plan, task="train"), run=tasks.train,
        response_model=TrainResult,
        command=Command("print the JSON of POST /api/v1/train", (
            option("--iterations", type=positive, help="training passes (default 100)"),
            option("--record-every", type=positive,
                   help="record the curves every N passes"),
            option("--include-trace", action="store_true",
                   help="also the trace of one more pass from the trained parameters"),
            DETAIL))),
    Computation(
        "gradcheck", "Every analytic gradient against central finite differences",
        body=_request, plan=partial(tasks.plan, task="gradcheck"), run=tasks.gradcheck,
        response_model=GradcheckResult,
        command=Command("print the JSON of POST /api/v1/gradcheck")),
    Computation(
        "params", "The initial parameters and state a trace of the same request starts from "
                  "(seed, forget_bias and spectral_radius applied), without the pass",
        body=_trace_body, plan=partial(tasks.plan, task="params"), run=tasks.params,
        response_model=ParamsResult,
        command=Command("print the JSON of POST /api/v1/params: the initial parameters "
                        "and state, without the pass")),
    Computation(
        "export/torch", "Check it in PyTorch: a script that redoes the pass with autograd and "
                        "compares every state, gradient and update (same body as /trace)",
        body=_trace_body, plan=export_torch.plan, run=export_torch.run,
        response_limit=export_torch.response_limit,
        media_type=export_torch.MEDIA_TYPE, filename=export_torch.FILENAME,
        openapi_200=export_torch.OPENAPI_200,
        command=Command("print the PyTorch script of POST /api/v1/export/torch (redirect it "
                        "to a .py file and run it with torch)")),
    Computation(
        "neuron", "One hidden unit's delta at one backward step, term by term (Haykin's "
                  "neuron-level BPTT)",
        body=neuron.body, plan=neuron.plan, run=neuron.run, form="neuron",
        response_model=neuron.NeuronResult,
        command=Command("print the JSON of POST /api/v1/neuron: one hidden unit's delta at "
                        "one backward step, term by term", (
            option("--t", type=int, help="the backward step (1-based)"),
            option("--unit", type=int, help="the hidden unit (0-based)"),
            option("--update", type=int, help="the update whose window to read (0-based; "
                                              "default: the first window holding t)"),
            option("--example", type=int, help="a mini-batch's example (0-based; default 0)"),
            option("--layer", type=int, help="a stack's layer (1-based; default the top)"),
            option("--direction", choices=["forward", "reverse"],
                   help="a bidirectional layer's network (default forward)"),
            option("--convention", choices=["gradient", "haykin"],
                   help="gradient: delta = dL/da (default); haykin: delta = -dE/dv")))),
    Computation(
        "export/csv", "The whole trace as one tidy CSV: one row per number",
        body=_csv_body, plan=export_csv.plan, run=export_csv.run, form="csv",
        media_type=export_csv.MEDIA_TYPE, filename=export_csv.FILENAME,
        openapi_200=export_csv.OPENAPI_200,
        command=Command("print the tidy CSV of POST /api/v1/export/csv: one row per number", (
            option("--detail", choices=["auto", "full", "norms"],
                   help='full matrices, their norms, or "auto" (full while small), as '
                        '/api/v1/trace'),))),
    Computation(
        "sample", "The text the network writes after training: each token drawn at a "
                  "temperature with its top 5, the perplexity, teacher forcing against free "
                  "running (app.sampling)",
        body=sample.body, plan=sample.plan, run=sample.run,
        response_model=sample.SampleResult,
        command=Command("print the JSON of POST /api/v1/sample: the text the network writes "
                        "after training", (
            option("--iterations", type=int, help="training passes first (default 0)"),
            option("--prime", help="what it reads first (default: the data's first token)"),
            option("--length", type=int, help="tokens to write (1 to 500; default 100)"),
            option("--temperature", type=float, help="> 0 (default 1)"),
            option("--sample-seed", type=int, help="seed of the draws (default 0)")))),
    Lookup("bugs", "The bug catalogue: real mistakes of hand-written BPTT, each planted in one "
                   "line of the backward pass (the request's bug)",
           bugs.BugCatalogue, bugs.bug_catalogue),
)

# The POST endpoints, by path
COMPUTATIONS: dict[str, Computation] = {
    endpoint.path: endpoint for endpoint in ENDPOINTS if isinstance(endpoint, Computation)}


def warm_up() -> None:
    """The fork server's warm-up (app/serving/runner.py): every endpoint's module is imported
    (this one imports them all), and one small training with its trace is computed."""
    COMPUTATIONS["train"].compute({}, {"iterations": 2, "record_every": 1,
                                       "include_trace": True, "detail": "auto"}, Settings())
