"""GET /api/v1/health and GET /api/v1/presets: what the server is, and its scenarios."""

from __future__ import annotations

from functools import cache

from starlette.responses import Response

from bptt_studio import engine
from bptt_studio.core import jsonio
from bptt_studio.core.version import __version__
from bptt_studio.endpoints.schemas import Health


# async, so it never waits in a thread pool (nor behind a computation: app/serving/runner.py);
# HEAD too (app.serving.protocol.HeadAsGetMiddleware), as some load balancers probe with HEAD.
async def health() -> Health:
    return Health(status="ok", version=__version__)


@cache
def presets_bytes() -> bytes:
    return jsonio.dumps(engine.list_presets())


async def presets() -> Response:
    return jsonio.response(presets_bytes())
