"""What an endpoint of the API is, declared once (app/endpoints/registry.py lists them all), and
what is done with a declaration: its route (app/endpoints/routes.py), its CLI command
(app/cli.py) and its computation (app/serving/runner.py) are all made from it.

Two kinds:

- ``Computation``: a POST whose work runs in a computation process. Its body is the engine's
  request plus the endpoint's own options (the body model's other fields, with their
  defaults); ``plan`` turns the request into the engine's plan (validation, the preset, the
  sizes, the work), the server's limits judge the plan and what it will cost, the response's
  form included (``admit``: in the worker, in milliseconds, before any queue); ``run`` makes
  the response bytes from the admitted plan, in a computation process: a module-level
  function, pickled by reference, with plain values in and bytes out. The CLI runs the same
  two steps in its own process (``compute``), so both answer the same bytes.
- ``Lookup``: a GET answered on the event loop by its handler (the health, the presets, the
  bug catalogue).

Errors are raised, never returned: ``engine.RequestError`` (422, naming the field) and
``app.core.errors.ApiError`` (413, ...); the API's exception handlers and the CLI turn them
into the same body.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from bptt_studio.core import jsonio
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.schemas import Schemas
from bptt_studio.engine import Plan
from bptt_studio.engine.planning.cost import Detail, Form, Output, estimate
from bptt_studio.engine.request.fields import TraceRequest
from bptt_studio.serving import limits
from bptt_studio.serving.runner import Work

# The body model of an endpoint under a set of limits (the engine's request plus its options)
BodyOf = Callable[[Schemas, Settings], type[BaseModel]]
# The engine's plan of a request for this endpoint: (the request, the options) -> Plan
PlanOf = Callable[[dict[str, Any], dict[str, Any]], Plan]
# The response bytes of an admitted plan: (plan, options, settings) -> bytes; module-level
Run = Callable[[Plan, dict[str, Any], Settings], bytes]

JSON = "application/json"
# The fields of the engine's request: every other field of a body is an endpoint's option.
REQUEST_FIELDS = frozenset(f.name for f in fields(TraceRequest))


@dataclass(frozen=True)
class Option:
    """An option of an endpoint's command: its flag (``--record-every`` sets the body field
    ``record_every``) and argparse's keywords (type, choices, action, help)."""

    flag: str
    argparse: Mapping[str, Any]

    @property
    def field(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


def option(flag: str, **argparse: Any) -> Option:
    return Option(flag, argparse)


def positive(text: str) -> int:
    """An option's type: a whole number of at least 1 (argparse reports the error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


@dataclass(frozen=True)
class Command:
    """An endpoint's CLI command (named as its path: ``export/csv`` is ``export-csv``): its
    help line and its options; every command also takes ``--preset`` or ``--request``."""

    help: str
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Computation:
    """A POST endpoint computed in the compute pool: one declaration, from which its route,
    its CLI command and its run are made."""

    path: str  # under /api/v1: "trace", "export/csv"
    summary: str  # the OpenAPI operation's summary
    body: BodyOf
    plan: PlanOf
    run: Run
    command: Command
    # How the cost model prices the response: its form, and the request's "detail" (a trace's
    # full matrices or their norms) when the response is a trace's JSON or CSV.
    form: Form = "json"
    # A response that is not the trace's JSON or CSV is bounded by its own size instead
    # (called after the limits, with the admitted plan; raises ApiError 413).
    response_limit: Callable[[Plan, Settings], None] | None = None
    response_model: Any = None  # a JSON response's model, for the OpenAPI document
    media_type: str = JSON
    filename: str | None = None  # sent as an attachment of this name
    openapi_200: dict[str, Any] | None = None  # a response that is not JSON: its 200

    @property
    def name(self) -> str:
        """The operation's name (its OpenAPI operationId starts with it): "export_csv"."""
        return self.path.replace("/", "_")

    @property
    def command_name(self) -> str:
        return self.path.replace("/", "-")

    def split(self, body: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the engine's request, this endpoint's options) of a validated body.

        The engine's request holds only the fields the client set, so a preset's own settings
        fill the rest (as engine.plan does); the options come with their defaults."""
        options = set(type(body).model_fields) - REQUEST_FIELDS
        return (body.model_dump(exclude_unset=True, exclude=options),
                body.model_dump(include=options))

    def output(self, options: dict[str, Any], settings: Settings) -> Output:
        """What the response makes of the engine's result, as the cost model prices it."""
        detail: Detail = "auto" if self.response_limit is not None else options.get(
            "detail", "auto")
        return limits.response(settings, self.form, detail)

    def admit(self, request: dict[str, Any], options: dict[str, Any],
              settings: Settings) -> Plan:
        """The plan of the request, judged by the limits (its sizes, its cost, its response):
        a refusal is raised here, in milliseconds and before any computation, so the server
        answers it at once instead of queueing it behind running computations."""
        job = self.plan(request, options)
        limits.check(job, settings, self.output(options, settings),
                     bound_response=self.response_limit is None)
        if self.response_limit is not None:
            self.response_limit(job, settings)
        return job

    def work(self, request: dict[str, Any], options: dict[str, Any],
             settings: Settings) -> Work:
        """The admitted request as a computation process runs it, with its estimated cost."""
        job = self.admit(request, options, settings)
        cpu_seconds = estimate(job.work, self.output(options, settings)).cpu_seconds
        return Work(self.run, (job, options, settings), cpu_seconds)

    def compute(self, request: dict[str, Any], options: dict[str, Any],
                settings: Settings) -> bytes:
        """The response bytes, admitted and run in this process (the CLI, the tests)."""
        return self.run(self.admit(request, options, settings), options, settings)

    def respond(self, content: bytes) -> Response:
        """The response of the computed bytes: JSON, or a download named ``filename``."""
        if self.media_type == JSON:
            return jsonio.response(content)
        headers = None if self.filename is None else {
            "Content-Disposition": f'attachment; filename="{self.filename}"'}
        return Response(content=content, media_type=self.media_type, headers=headers)


@dataclass(frozen=True)
class Lookup:
    """A GET endpoint answered on the event loop: FastAPI reads the handler's parameters."""

    path: str
    summary: str
    response_model: Any
    handler: Callable[..., Awaitable[Any]]


Endpoint = Computation | Lookup
