"""Request bodies: a size limit before they are read whole, and JSON parsed by orjson.

``BodyLimitMiddleware`` answers 413 as soon as a body is known to be over the limit: at once
from its Content-Length, or while counting the chunks of a streamed body; it never holds more
than the limit. ``JSONBodyRoute`` parses bodies with orjson (``app.jsonio.parse_body``), which
refuses NaN and Infinity (Python's json module would accept them), and answers 400 for a body
that is not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message as EmailMessage
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bptt_studio import jsonio
from bptt_studio.errors import ApiError

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyLimitMiddleware:
    """Pure ASGI: 413 for bodies over ``max_bytes``; the body reaches the app unchanged."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send, declared)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()  # after the body: http.disconnect when the client leaves

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send,
                         declared: int | None) -> None:
        response = jsonio.response(too_large(self.max_bytes, declared).body(), 413)
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
    if not content_type:
        return False
    message = EmailMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


class JSONBodyRoute(APIRoute):
    """A route whose JSON body is parsed by orjson before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def parse_then_handle(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                raise ApiError(400, ("body",), "send the request as JSON, with the header "
                                               "Content-Type: application/json",
                               "content_type")
            # Starlette's Request.json() returns this cached value: FastAPI never reparses.
            request._json = jsonio.parse_body(await request.body())
            return await handler(request)

        return parse_then_handle
