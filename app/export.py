""""Check it in PyTorch": POST /api/v1/export/torch and ``bptt-studio export-torch``.

Both take the request of /trace and answer a Python script (text/x-python) that rebuilds the
same network in PyTorch, runs the same pass with autograd and compares every hidden state,
gradient and update with the numbers the engine computed (``engine.torch_script``). This module
is one endpoint of ``service.compute`` ("export_torch"): the same limits as /trace apply, and
a script whose embedded numbers would pass the response limit is refused (413) before it is
written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.responses import Response

from bptt_studio import __version__, limits
from bptt_studio.engine.torch_script import estimate_script_bytes, torch_script
from bptt_studio.errors import ApiError
from bptt_studio.settings import Settings

MEDIA_TYPE = "text/x-python; charset=utf-8"
FILENAME = "bptt_check_in_pytorch.py"

# For the OpenAPI document: what a 200 of the route holds.
OPENAPI_RESPONSE: dict[str, Any] = {
    "description": "a Python script that redoes the pass in PyTorch and compares its numbers",
    "content": {"text/x-python": {"schema": {"type": "string"}}},
}


def script_bytes(request: dict[str, Any], options: dict[str, Any], settings: Settings) -> bytes:
    """The script of ``request`` as UTF-8 bytes (``options``, the trace's, change nothing)."""
    del options  # "detail" shapes a trace's JSON; the script always carries every number
    limits.check_sizes(request, settings)
    limits.check_schedule_work(request, settings)
    with np.errstate(all="ignore"):
        estimate = estimate_script_bytes(request)
        if estimate > settings.max_response_bytes:
            raise ApiError(413, ("body",),
                           f"the script would be about {estimate / 1e6:.1f} MB (every "
                           f"gradient and update of the pass written out), over the server's "
                           f"limit of {settings.max_response_bytes / 1e6:.1f} MB "
                           f"(BPTT_MAX_RESPONSE_BYTES); ask for a smaller hidden_size, a "
                           f"shorter sequence or fewer updates (a larger truncation k1)",
                           "response_too_large")
        text = torch_script(request, made_by="BPTT Studio", version=__version__)
    return text.encode("utf-8")


def response(body: bytes) -> Response:
    """The script as a download named ``FILENAME``."""
    return Response(content=body, media_type=MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{FILENAME}"'})
