"""Request bodies: a size limit before they are read whole, and JSON parsed by orjson.

``BodyLimitMiddleware`` answers 413 as soon as a body is known to be over the limit: at once
from its Content-Length, or while counting the chunks of a streamed body; it never holds more
than the limit. The bodies being received at once, on every connection, hold at most
``RECEIVING_BYTES`` between them (a body's Content-Length is reserved when its headers are
in; a streamed body counts as it arrives): one more is a 503 with Retry-After, so clients
that send bodies slowly cannot make the worker hold their bytes by the hundred (200 bodies of
3 MB stalled before their end took the worker +575 MB for 10 s).

``JSONBodyRoute`` parses bodies with orjson (``app.core.jsonio.parse_body``), which refuses NaN
and Infinity (Python's json module would accept them), and answers 400 for a body that is not
JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message as EmailMessage
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bptt_studio.core import jsonio
from bptt_studio.core.errors import ApiError

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The bytes of the bodies being received at once, all connections of a worker together: ten of
# the largest body (3 MB), more than a class sends at once (a request of the page is 1-2 KB).
RECEIVING_BYTES = 32 * 1024 * 1024


class BodyLimitMiddleware:
    """Pure ASGI: 413 for bodies over ``max_bytes``, 503 past ``RECEIVING_BYTES`` of bodies
    being received at once (Retry-After ``retry_after_s``: the time a body has to arrive);
    the body reaches the app unchanged."""

    def __init__(self, app: ASGIApp, max_bytes: int, retry_after_s: int = 10) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.retry_after_s = retry_after_s
        self.receiving = 0  # bytes held or reserved by the bodies being received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, too_large(self.max_bytes, declared))
            return
        held = 0  # what this body holds of RECEIVING_BYTES: its Content-Length, or its chunks
        try:
            if declared and not self._hold(declared):
                await self._refuse(scope, receive, send, self._busy())
                return
            held = declared or 0
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left: nothing to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await self._refuse(scope, receive, send, too_large(self.max_bytes, None))
                    return
                if size > held:  # streamed, or longer than declared (h11 refuses that)
                    if not self._hold(size - held):
                        await self._refuse(scope, receive, send, self._busy())
                        return
                    held = size
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
        finally:
            self.receiving -= held
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()  # after the body: http.disconnect when the client leaves

        await self.app(scope, replay, send)

    def _hold(self, size: int) -> bool:
        """Take ``size`` bytes of RECEIVING_BYTES, if they are free."""
        if self.receiving + size > RECEIVING_BYTES:
            return False
        self.receiving += size
        return True

    def _busy(self) -> ApiError:
        return ApiError(503, (), f"the server is busy receiving other requests' bodies (at "
                                 f"most {RECEIVING_BYTES // 2**20} MB at once); retry after "
                                 f"{self.retry_after_s} s", "busy",
                        headers={"Retry-After": str(self.retry_after_s)})

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      error: ApiError) -> None:
        response = jsonio.response(error.body(), error.status_code, error.headers)
        response.headers["connection"] = "close"  # the unread rest of the body is dropped
        await response(scope, receive, send)


def too_large(max_bytes: int, declared: int | None) -> ApiError:
    """The 413 of a body over ``max_bytes`` (``declared``: its Content-Length, if known)."""
    given = f"{declared} bytes" if declared is not None else "more than that"
    return ApiError(413, ("body",), f"the body is too large: the server takes at most "
                                    f"{max_bytes} bytes (BPTT_MAX_BODY_BYTES); got {given}",
                    "body_too_large")


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(content_type: str | None) -> bool:
    """JSON in UTF-8 (RFC 8259: JSON between systems is UTF-8; another charset declared
    would be read as UTF-8 all the same, so it is refused)."""
    if not content_type:
        return False
    message = EmailMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    charset = (message.get_content_charset() or "utf-8").replace("_", "-")
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")) and charset in ("utf-8", "utf8")


class JSONBodyRoute(APIRoute):
    """A route whose JSON body is parsed by orjson before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def parse_then_handle(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                raise ApiError(400, ("body",), "send the request as JSON in UTF-8, with the "
                                               "header Content-Type: application/json",
                               "content_type")
            # Starlette's Request.json() returns this cached value: FastAPI never reparses.
            request._json = jsonio.parse_body(await request.body())
            return await handler(request)

        return parse_then_handle
