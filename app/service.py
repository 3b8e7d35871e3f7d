"""The API's work, shared by the HTTP handlers and the CLI: a validated request in, JSON out.

``compute(endpoint, request, options, settings)`` is the one entry: plain, picklable values in
(the engine's request as the client set it, the API's options with their defaults), response
bytes out. It is two steps, each done once: ``admit`` (the engine plans the request:
validation, the preset, the sizes, the work; the server's limits judge the plan and what it
will cost, the response's JSON included) and ``run`` (the engine runs the plan and the result
is shaped, by the ``detail`` option, into the response bytes). The server admits in its worker
and runs the admitted plan in a computation process (app/runner.py); the CLI does both.
Errors are raised, never returned: ``engine.RequestError`` (422) and ``app.errors.ApiError``
(413, ...); the API's exception handlers and the CLI turn them into the same body.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from bptt_studio import engine, limits
from bptt_studio.engine import Plan
from bptt_studio.engine.outputs.detail import EVENT_MATRICES, UPDATE_MATRICES, with_norms
from bptt_studio.errors import ApiError
from bptt_studio.jsonio import all_finite, dumps
from bptt_studio.schemas import API_FIELDS
from bptt_studio.settings import Settings

# Bytes per number of a full trace, measured on traces of every cell (orjson writes float64
# in their shortest round-trip form, about 19 characters and a comma; zeros are shorter).
BYTES_PER_NUMBER = 20


def split(body: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the engine's request, the API's options) of a validated body.

    The engine's request holds only the fields the client set, so a preset's own settings
    fill the rest (as engine.plan does); the options come with their defaults.
    """
    request = body.model_dump(exclude_unset=True, exclude=set(API_FIELDS))
    options = body.model_dump(include=set(API_FIELDS))
    return request, options


def compute(endpoint: str, request: dict[str, Any], options: dict[str, Any],
            settings: Settings) -> bytes:
    """The response bytes of ``endpoint`` ("trace", "train", "gradcheck" or "params"): the request
    planned once, the plan judged by the limits, then run."""
    return run(endpoint, admit(endpoint, request, options, settings), options, settings)


def admit(endpoint: str, request: dict[str, Any], options: dict[str, Any],
          settings: Settings) -> Plan:
    """The plan of the request, judged by the limits (its cost, its response): a refusal is
    raised here, in milliseconds and before any computation, so the server answers it at
    once instead of queueing it behind running computations."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
    job = engine.plan(request, task=endpoint,  # type: ignore[arg-type]  # checked above
                      iterations=options.get("iterations", 1),
                      include_trace=options.get("include_trace", False))
    limits.check(job, settings, limits.response(settings, "json", options.get("detail", "auto")))
    return job


def run(endpoint: str, job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The response bytes of an admitted plan."""
    # Overflow is reported through non_finite, never raised (nor warned about): the lazy
    # contributions are formed while the payload is built, so that is inside too.
    with np.errstate(all="ignore"):
        return dumps(ENDPOINTS[endpoint](job, options, settings))


def trace(job: Plan, options: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return trace_payload(engine.run_trace(job), options.get("detail", "auto"), settings)


def train(job: Plan, options: dict[str, Any], settings: Settings) -> dict[str, Any]:
    result = engine.train(job, record_every=options["record_every"])
    finite = not result["non_finite"] and all_finite(
        {k: v for k, v in result.items() if k != "trace"})
    if result["trace"] is not None:
        result["trace"] = trace_payload(result["trace"], options["detail"], settings)
        finite = finite and not result["trace"]["non_finite"]
    result["non_finite"] = not finite
    return result


def params(job: Plan, options: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The initial parameters and state a trace of the request starts from, always whole
    (``detail`` has nothing to reduce here; the cost is the plan's and the numbers')."""
    return engine.initial_params(job)


def gradcheck(job: Plan, options: dict[str, Any], settings: Settings) -> dict[str, Any]:
    # the cost budget judged the check (limits.check); a deployment may still bound it
    most = settings.max_gradcheck_evaluations
    return engine.gradcheck(job, max_evaluations=most if most is not None else sys.maxsize)


ENDPOINTS: dict[str, Callable[[Plan, dict[str, Any], Settings], dict[str, Any]]] = {
    "trace": trace, "train": train, "gradcheck": gradcheck, "params": params}


def presets() -> bytes:
    return dumps(engine.list_presets())


# ---------------------------------------------------------------------------------------------
# The detail option.


def trace_payload(result: dict[str, Any], detail: str, settings: Settings) -> dict[str, Any]:
    """The trace as the API sends it: full matrices or their norms, ``non_finite`` certain.

    "auto" sends full matrices while the estimated response stays under
    ``max_response_bytes``; an explicit "full" over it is a 413 that says to ask for norms.
    """
    chosen = detail
    if detail in ("auto", "full"):
        estimate = estimate_full_bytes(result)
        if estimate <= settings.max_response_bytes:
            chosen = "full"
        elif detail == "auto":
            chosen = "norms"
        else:
            raise ApiError(413, ("body", "detail"),
                           f"the full trace would be about {estimate / 1e6:.1f} MB, over the "
                           f"server's limit of {settings.max_response_bytes / 1e6:.1f} MB "
                           f"(BPTT_MAX_RESPONSE_BYTES); ask for \"detail\": \"norms\" (every "
                           f"per-step matrix replaced by its Frobenius norm), or a smaller "
                           f"hidden_size or a shorter sequence", "response_too_large")
    payload = with_norms(result) if chosen == "norms" else _materialised(result)
    payload["non_finite"] = bool(result["non_finite"]) or not all_finite(_formed(payload))
    payload["detail"] = chosen
    return payload


# The engine's non_finite covers every number it recorded (engine.run). What the payload forms
# afterwards from finite numbers can still overflow on its own: a running sum of finite
# contributions, the norm of finite entries, an outer product. Only those fields are walked
# (walking the whole payload again cost more than writing its JSON).
FORMED_EVENT_FIELDS = (*EVENT_MATRICES, "norms", "accum_norms")


def _formed(payload: dict[str, Any]) -> list[Any]:
    """The payload's numbers formed after the engine's own check of its result."""
    formed: list[Any] = [payload["params"]]
    for event in payload["events"]:
        if event.get("kind") == "backward":
            formed += [event.get(key) for key in FORMED_EVENT_FIELDS]
    for update in payload["updates"]:
        formed += [update.get(key) for key in UPDATE_MATRICES]
    return formed


def _materialised(result: dict[str, Any]) -> dict[str, Any]:
    """The result with the lazy contrib/accum mappings formed into dicts, once."""
    events = []
    for event in result["events"]:
        if event.get("kind") == "backward":
            event = {**event, **{key: dict(event[key]) for key in EVENT_MATRICES
                                 if isinstance(event.get(key), Mapping)}}
        events.append(event)
    return {**result, "events": events}


def estimate_full_bytes(result: dict[str, Any]) -> int:
    """About how large the full trace's JSON is, from its shapes, without forming it.

    Every parameter-shaped array holds P numbers (the sizes of the parameters): two per
    backward event (contrib, accum), four per update, one for the initial params. The
    vectors are counted on one event of each kind and multiplied by the count of that kind.
    """
    params = result["params"]
    P = sum(int(np.size(a)) for a in params.values())
    events = result["events"]
    kinds: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        kinds.setdefault(event.get("kind", ""), []).append(event)
    numbers = P
    for kind, group in kinds.items():
        sample = {k: v for k, v in group[0].items() if k not in EVENT_MATRICES}
        numbers += len(group) * _count(sample)
        if kind == "backward":
            numbers += len(group) * 2 * P
    for update in result["updates"][:1]:
        sample = {k: v for k, v in update.items() if k not in UPDATE_MATRICES}
        present = sum(1 for k in UPDATE_MATRICES if update.get(k) is not None)
        numbers += len(result["updates"]) * (_count(sample) + present * P)
    rest = {k: v for k, v in result.items() if k not in ("events", "updates", "params")}
    numbers += _count(rest)
    return numbers * BYTES_PER_NUMBER


def _count(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values()) + len(value)
    if isinstance(value, list | tuple):
        if value and not isinstance(value[0], list | tuple | Mapping | np.ndarray):
            return len(value)
        return sum(_count(v) for v in value)
    return 1
