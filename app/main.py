"""Wires the application: settings, middleware, static files, API and page routers."""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from bptt_studio.core.errors import InternalErrorMiddleware
from bptt_studio.core.paths import STATIC_DIR
from bptt_studio.core.settings import Settings, get_settings
from bptt_studio.core.version import __version__
from bptt_studio.endpoints import registry
from bptt_studio.endpoints import routes as api
from bptt_studio.pages import routes as pages
from bptt_studio.rooms import routes as rooms
from bptt_studio.serving.body import BodyLimitMiddleware
from bptt_studio.serving.cache import ResponseCacheMiddleware
from bptt_studio.serving.protocol import HeadAsGetMiddleware, ProtocolChecksMiddleware
from bptt_studio.serving.runner import ComputePool, release_large_blocks_when_freed
from bptt_studio.serving.security import JSONCORSMiddleware, SecurityHeadersMiddleware

# gzip level: traces are mostly digits, which compress about 2.4x at any level; on a 3.7 MB
# trace level 1 took 25 ms for 1.57 MB, level 5 120 ms for 1.44 MB, level 9 290 ms for 1.42 MB.
GZIP_LEVEL = 1


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app under the given limits (by default from the environment, BPTT_*)."""
    settings = settings or get_settings()
    # the fork server imports every endpoint's module once, for all its children
    pool = ComputePool(settings, warm_up=registry.warm_up)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        release_large_blocks_when_freed()  # responses' buffers leave the worker with them
        pool.start()  # the computation processes start while the server starts listening
        try:
            yield
        finally:
            await pool.close()

    # FastAPIOffline serves the Swagger UI assets from its package: /docs works offline.
    # /redoc would still fetch a logo from a CDN, so it is off.
    app = FastAPIOffline(
        title="BPTT Studio API",
        version=__version__,
        description="Every number of Backpropagation Through Time for RNN, LSTM and GRU.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    # Middleware runs outermost-last-added: HEAD as GET, security headers, the last-resort JSON
    # 500, CORS, body limit, response cache, gzip. Bodies reach the cache already bounded; what
    # it replays gets the security headers exactly as a fresh response does; it stores
    # responses already compressed by gzip (for clients that accept it), so a hit does not
    # compress again.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL)
    if settings.response_cache_bytes:
        app.add_middleware(ResponseCacheMiddleware, max_bytes=settings.response_cache_bytes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       retry_after_s=max(1, math.ceil(settings.client_timeout_s)))
    if settings.cors_origins:
        app.add_middleware(
            JSONCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    app.add_middleware(ProtocolChecksMiddleware)
    app.add_middleware(HeadAsGetMiddleware)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.state.compute_pool = pool  # (its state, for tests and a debugger)
    api.install(app, settings, pool)  # /api/v1: every endpoint of app/endpoints/registry.py
    app.include_router(rooms.build_router(settings))  # /rooms: classrooms (app/rooms/)
    app.include_router(pages.router)
    return app


app = create_app()
