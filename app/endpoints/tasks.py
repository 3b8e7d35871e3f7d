"""POST /trace, /train, /gradcheck and /params: the engine's tasks, answered as JSON.

Each is planned by the engine as its task (``plan``) and run by one function below, in a
computation process: the admitted plan, the options and the settings in, the response bytes
out (app/endpoints/registry.py declares them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from bptt_studio import engine
from bptt_studio.core.jsonio import all_finite, dumps
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.detail import trace_payload
from bptt_studio.engine import Plan
from bptt_studio.engine.planning.plan import Task


def plan(request: dict[str, Any], options: dict[str, Any], task: Task) -> Plan:
    """The engine's plan of ``task`` for the request (/train's passes and its trace)."""
    return engine.plan(request, task=task, iterations=options.get("iterations", 1),
                       include_trace=options.get("include_trace", False))


def _json(make: Callable[[], Any]) -> bytes:
    # Overflow is reported through non_finite, never raised (nor warned about): the lazy
    # contributions are formed while the payload is written, so that is inside too.
    with np.errstate(all="ignore"):
        return dumps(make())


def trace(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    return _json(lambda: trace_payload(engine.run_trace(job), options.get("detail", "auto"),
                                       settings))


def train(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    def result() -> dict[str, Any]:
        made = engine.train(job, record_every=options["record_every"])
        finite = not made["non_finite"] and all_finite(
            {k: v for k, v in made.items() if k != "trace"})
        if made["trace"] is not None:
            made["trace"] = trace_payload(made["trace"], options["detail"], settings)
            finite = finite and not made["trace"]["non_finite"]
        made["non_finite"] = not finite
        return made

    return _json(result)


def params(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The initial parameters and state a trace of the request starts from, always whole
    (``detail`` has nothing to reduce here; the cost is the plan's and the numbers')."""
    return _json(lambda: engine.initial_params(job))


def gradcheck(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    # the cost budget judged the check (limits.check); a deployment may still bound it
    most = settings.max_gradcheck_evaluations
    return _json(lambda: engine.gradcheck(
        job, max_evaluations=most if most is not None else sys.maxsize))
