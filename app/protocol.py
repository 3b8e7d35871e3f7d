"""The HTTP/1.1 protocol the server runs: uvicorn's h11 protocol with deadlines for slow clients
and JSON answers where uvicorn would answer in plain text.

uvicorn closes a keep-alive connection that stays idle after a response, and nothing else: a
client that opens a connection and sends nothing, or half its headers, or half its body, holds
that connection (and, for a body, the request's task) forever; one that never reads its
response holds the response's bytes. Here every phase has a deadline of
``BPTT_CLIENT_TIMEOUT_S`` seconds, counted from the phase's start (so trickling a byte at a
time does not extend it):

    a new connection, before its first byte         closed, silently
    the request line and headers                    408 (JSON), closed
    the body, once the headers are in               408 (JSON), closed
    a response the client stops reading             closed

A request that is not valid HTTP gets uvicorn's 400, but as JSON in the API's error shape and
with the security headers (uvicorn's own is text/plain).

``bptt-studio serve`` runs it: ``uvicorn.run(..., http=PROTOCOL)``. ``HeadAsGetMiddleware``
(in the app itself) answers HEAD for every GET route, as HTTP expects and Starlette's own
routes do (FastAPI's do not: ``HEAD /api/v1/health`` was a 405).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.server import ServerState

from bptt_studio.errors import error_body
from bptt_studio.security import COMMON_HEADERS, STRICT_CSP
from bptt_studio.settings import get_settings

PROTOCOL = "bptt_studio.protocol:GuardedH11Protocol"

IDLE, HEAD, BODY, WRITE = "a new connection", "headers", "body", "response"


def error_response(status: int, msg: str, type_: str,
                   default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 response, written straight to the socket, that closes the connection."""
    body = orjson.dumps(error_body([{"loc": [], "msg": msg, "type": type_}]))
    headers = [*default_headers, (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               (b"content-security-policy", STRICT_CSP.encode()), *COMMON_HEADERS]
    head = b"HTTP/1.1 %d %s\r\n" % (status, STATUS_PHRASES[status])
    return head + b"".join(name + b": " + value + b"\r\n" for name, value in headers) + \
        b"\r\n" + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's H11Protocol with a deadline per phase of a request, and JSON errors."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.client_timeout = get_settings().client_timeout_s
        self._phase: str | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- the phases ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(IDLE)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._enter(WRITE)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._phase == WRITE:
            self._enter(None)
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(None)
        super().connection_lost(exc)

    def _follow(self) -> None:
        """The phase from h11's view of the client's side of the connection."""
        if self._phase == WRITE or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # between requests: uvicorn's keep-alive timeout covers an idle connection; ours
            # starts with the first byte of the next request
            partial = bool(self.conn.trailing_data[0])
            self._enter(HEAD if partial else (IDLE if self._phase == IDLE else None))
        elif state is h11.SEND_BODY:
            self._enter(BODY)
        else:
            self._enter(None)  # the request is in: the app's own deadline applies

    def _enter(self, phase: str | None) -> None:
        if phase == self._phase and (phase is None or self._timer is not None):
            return  # the same phase keeps its deadline
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._phase = phase
        if phase is not None:
            self._timer = self.loop.call_later(self.client_timeout, self._expired, phase)

    def _expired(self, phase: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        unanswered = self.cycle is None or not self.cycle.response_started or phase == HEAD
        if phase in (HEAD, BODY) and unanswered:
            self.logger.info("closing a connection: its request's %s did not arrive within "
                             "%g s", phase, self.client_timeout)
            self.transport.write(error_response(
                408, f"the request's {phase} did not arrive within {self.client_timeout:g} s "
                     f"(BPTT_CLIENT_TIMEOUT_S); the connection is closed", "client_timeout",
                self.server_state.default_headers))
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app's receive() now says http.disconnect
            self.cycle.message_event.set()
        self.transport.close()

    # -- uvicorn's plain-text 400, as JSON --------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self._enter(None)
        self.transport.write(error_response(
            400, "the request is not valid HTTP/1.1 (its request line or a header is "
                 "malformed, or the headers are over 16 KB)", "http_invalid",
            self.server_state.default_headers))
        self.transport.close()


class HeadAsGetMiddleware:
    """Pure ASGI: a HEAD request is routed as GET. The server (uvicorn reads its own copy of
    the scope, which still says HEAD) sends the headers, Content-Length included, and drops
    the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "HEAD":
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)
