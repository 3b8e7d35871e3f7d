""""Check it in PyTorch": POST /api/v1/export/torch and ``bptt-studio export-torch``.

Both take the request of /trace and answer a Python script (text/x-python) that rebuilds the
same network in PyTorch, runs the same pass with autograd and compares every hidden state,
gradient and update with the numbers the engine computed (``engine.torch_script``).

Like ``app.service`` and ``app.derived``, the work is two plain functions: ``admit_script``
plans the request once and judges it by the same limits as /trace, refusing (413) a script
whose embedded numbers would pass the response limit before it is written; ``script_bytes``
writes the script of the admitted plan: picklable values in, the response bytes out.
Errors are raised: ``engine.RequestError`` (422, naming the field) and ``app.errors.ApiError``
(413).
Nothing here imports NumPy until a request runs (the CLI sets the BLAS threads first).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from bptt_studio.settings import Settings

if TYPE_CHECKING:
    from bptt_studio.engine import Plan

MEDIA_TYPE = "text/x-python; charset=utf-8"
FILENAME = "bptt_check_in_pytorch.py"

# For the OpenAPI document: what a 200 of the route holds.
OPENAPI_RESPONSE: dict[str, Any] = {
    "description": "a Python script that redoes the pass in PyTorch and compares its numbers",
    "content": {"text/x-python": {"schema": {"type": "string"}}},
}


def admit_script(request: dict[str, Any], options: dict[str, Any],
                 settings: Settings) -> Plan:
    """The plan of the script's pass, judged by the limits and by the script's size."""
    from bptt_studio import engine, limits
    from bptt_studio.engine.outputs.torch_script import estimate_script_bytes
    from bptt_studio.errors import ApiError

    del options  # "detail" shapes a trace's JSON; the script always carries every number
    job = engine.plan(request)
    limits.check(job, settings, bound_response=False)  # the script's own size, below
    estimate = estimate_script_bytes(job)
    if estimate > settings.max_response_bytes:
        raise ApiError(413, ("body",),
                       f"the script would be about {estimate / 1e6:.1f} MB (every gradient "
                       f"and update of the pass written out), over the server's limit of "
                       f"{settings.max_response_bytes / 1e6:.1f} MB (BPTT_MAX_RESPONSE_BYTES); "
                       f"ask for a smaller hidden_size, a shorter sequence or fewer updates "
                       f"(a larger truncation k1)", "response_too_large")
    return job


def script_bytes(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The script of an admitted plan as UTF-8 bytes."""
    import numpy as np

    from bptt_studio import __version__, engine

    with np.errstate(all="ignore"):
        text = engine.torch_script(job, made_by="BPTT Studio", version=__version__)
    return text.encode("utf-8")


def response(body: bytes) -> Response:
    """The script as a download named ``FILENAME``."""
    return Response(content=body, media_type=MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{FILENAME}"'})


# ---- bptt-studio export-torch ---------------------------------------------------------------


def add_command(commands: Any) -> None:
    """Add ``export-torch`` to the ``bptt-studio`` subparsers."""
    from bptt_studio.cli import _add_request_options

    export = commands.add_parser(
        "export-torch", help="print the PyTorch script of POST /api/v1/export/torch "
                             "(redirect it to a .py file and run it with torch)")
    _add_request_options(export)
    export.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    """Validate like the API (the /trace body, then the engine), print the script's bytes;
    a bad request prints the API's error JSON on standard error and exits with status 2."""
    from bptt_studio import derived, service
    from bptt_studio.cli import run_request

    return run_request(args, {}, lambda schemas, _: schemas.trace_body,
                       lambda body, settings: derived.compute("export_torch",
                                                              *service.split(body), settings))
