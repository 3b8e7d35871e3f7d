"""What is derived from one recorded pass: a hidden unit's delta as its sum, and the tidy CSV.

Like ``app.service``, each endpoint is two plain functions: its admission ``(request,
options, settings) -> Plan`` (the engine's request as the client set it, this endpoint's
options with their defaults, the server's settings: planned once, judged by the limits) and
its run ``(plan, options, settings) -> bytes``; picklable values in and out, so the server
admits in its worker and runs in a computation process. ``ENDPOINTS`` lists them. Errors are
raised: ``engine.RequestError`` (422, naming the field) and ``app.errors.ApiError`` (413).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from bptt_studio import engine, export, limits, sampling
from bptt_studio.engine import Plan
from bptt_studio.engine.outputs.tidy import to_csv_bytes
from bptt_studio.errors import ApiError
from bptt_studio.jsonio import all_finite, dumps
from bptt_studio.service import BYTES_PER_NUMBER, estimate_full_bytes
from bptt_studio.settings import Settings

# The options of these endpoints: fields of the body that are not the engine's request.
NEURON_OPTIONS = frozenset({"t", "unit", "update", "convention"})
CSV_OPTIONS = frozenset({"detail"})
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_FILENAME = "bptt-trace.csv"


def split(body: BaseModel, options: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the engine's request: only the fields the client set, so a preset fills the rest;
    the endpoint's options, with their defaults)."""
    request = body.model_dump(exclude_unset=True, exclude=set(options))
    return request, body.model_dump(include=set(options))


def admit_neuron(request: dict[str, Any], options: dict[str, Any], settings: Settings) -> Plan:
    job = engine.plan(request)
    if job.request.bug is not None:
        raise engine.RequestError(("bug",), "the neuron view writes each term as the true "
                                            "equations give it, and a planted bug's numbers do "
                                            "not follow them: hunt the bug in /trace, beside "
                                            "the true pass")
    limits.check(job, settings, limits.response(settings, "neuron"))
    return job


def neuron(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The neuron view (engine.neuron) of unit ``unit`` at step ``t`` as JSON bytes."""
    with np.errstate(all="ignore"):
        view = engine.neuron(job, options["t"], options["unit"], options.get("update"),
                             options.get("convention", "gradient"))
    view["non_finite"] = not all_finite(view)
    return dumps(view)


def admit_csv(request: dict[str, Any], options: dict[str, Any], settings: Settings) -> Plan:
    job = engine.plan(request)
    limits.check(job, settings, limits.response(settings, "csv", options.get("detail", "auto")))
    return job


def export_csv(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The whole trace as one tidy CSV (engine.tidy), UTF-8 bytes.

    ``detail`` is /trace's: "full" matrices exactly when /trace would send them in full (the
    same estimate against BPTT_MAX_RESPONSE_BYTES), else "norms" for "auto" and a 413 for an
    explicit "full".
    """
    with np.errstate(all="ignore"):  # overflow shows as empty values, never as a warning
        result = engine.run_trace(job)
        detail = csv_detail(result, options.get("detail", "auto"), settings)
        return to_csv_bytes(result, detail)


def csv_detail(result: dict[str, Any], detail: str, settings: Settings) -> str:
    """"full" or "norms" for this trace, as /trace decides; an explicit "full" over the
    limit is a 413 naming ``detail``."""
    if detail == "norms":
        return detail
    estimate = estimate_full_bytes(result)
    if estimate <= settings.max_response_bytes:
        return "full"
    if detail == "auto":
        return "norms"
    numbers = estimate // BYTES_PER_NUMBER
    raise ApiError(413, ("body", "detail"),
                   f"the full trace holds about {numbers / 1e6:.1f} million numbers, one CSV "
                   f"row each; the server exports full matrices only while the trace's JSON "
                   f"stays under {settings.max_response_bytes / 1e6:.1f} MB "
                   f"(BPTT_MAX_RESPONSE_BYTES), and this one would be about "
                   f"{estimate / 1e6:.1f} MB; ask for \"detail\": \"norms\" (every per-step "
                   f"matrix replaced by its Frobenius norm), or a smaller hidden_size or a "
                   f"shorter sequence", "response_too_large")


# export_torch: the "Check it in PyTorch" script (app/export.py), run in the computation
# processes like the other two. Each endpoint: (its admission, its run).
Admit = Callable[[dict[str, Any], dict[str, Any], Settings], Plan]
Run = Callable[[Plan, dict[str, Any], Settings], bytes]
ENDPOINTS: dict[str, tuple[Admit, Run]] = {
    "neuron": (admit_neuron, neuron), "export_csv": (admit_csv, export_csv),
    "export_torch": (export.admit_script, export.script_bytes),
    "sample": (sampling.admit_sample, sampling.sample_bytes)}


def compute(endpoint: str, request: dict[str, Any], options: dict[str, Any],
            settings: Settings) -> bytes:
    """The response bytes of ``endpoint`` ("neuron", "export_csv" or "export_torch")."""
    return run(endpoint, admit(endpoint, request, options, settings), options, settings)


def admit(endpoint: str, request: dict[str, Any], options: dict[str, Any],
          settings: Settings) -> Plan:
    """The request planned once and judged by the limits (see ``service.admit``)."""
    return ENDPOINTS[endpoint][0](request, options, settings)


def run(endpoint: str, job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The response bytes of an admitted plan."""
    return ENDPOINTS[endpoint][1](job, options, settings)
