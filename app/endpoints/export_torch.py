""""Check it in PyTorch": POST /api/v1/export/torch (and ``bptt-studio export-torch``).

The body is /trace's; the answer is a Python script (text/x-python) that rebuilds the same
network in PyTorch, runs the same pass with autograd and compares every hidden state,
gradient and update with the numbers the engine computed (``engine.torch_script``).

The script is judged by the same limits as /trace and, instead of the trace's response
limit, by its own size: a script whose embedded numbers would pass BPTT_MAX_RESPONSE_BYTES is
refused (413) before it is written (``response_limit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt_studio import engine
from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings
from bptt_studio.core.version import __version__
from bptt_studio.engine import Plan
from bptt_studio.engine.outputs.torch_script import estimate_script_bytes

MEDIA_TYPE = "text/x-python; charset=utf-8"
FILENAME = "bptt_check_in_pytorch.py"
# For the OpenAPI document: what a 200 holds.
OPENAPI_200: dict[str, Any] = {
    "description": "a Python script that redoes the pass in PyTorch and compares its numbers",
    "content": {"text/x-python": {"schema": {"type": "string"}}},
}


def plan(request: dict[str, Any], options: dict[str, Any]) -> Plan:
    # "detail" shapes a trace's JSON; the script always carries every number
    return engine.plan(request)


def response_limit(job: Plan, settings: Settings) -> None:
    """The script's own size within BPTT_MAX_RESPONSE_BYTES, or a 413."""
    estimate = estimate_script_bytes(job)
    if estimate > settings.max_response_bytes:
        raise ApiError(413, ("body",),
                       f"the script would be about {estimate / 1e6:.1f} MB (every gradient "
                       f"and update of the pass written out), over the server's limit of "
                       f"{settings.max_response_bytes / 1e6:.1f} MB (BPTT_MAX_RESPONSE_BYTES); "
                       f"ask for a smaller hidden_size, a shorter sequence or fewer updates "
                       f"(a larger truncation k1)", "response_too_large")


def run(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The script of an admitted plan as UTF-8 bytes."""
    with np.errstate(all="ignore"):
        text = engine.torch_script(job, made_by="BPTT Studio", version=__version__)
    return text.encode("utf-8")
