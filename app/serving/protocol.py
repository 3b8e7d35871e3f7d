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
    a response the client stops taking              dropped (abort: its bytes are freed)

The responses stalled clients hold in their transports' buffers are at most
``STALLED_BYTES`` between them: a client that stalls once that much is held is dropped at
once (else 128 connections of one client could each hold a cached 7 MB response for their
grace). So stalled readers, whatever their number, hold a bounded share of the worker.

Connections are counted as they are made: past ``BPTT_MAX_CONNECTIONS`` in the worker, or
``BPTT_MAX_CONNECTIONS_PER_CLIENT`` from one address (a proxy listed in FORWARDED_ALLOW_IPS
excepted: it speaks for many clients and caps them itself), a new one is answered 503 or 429
in JSON with Retry-After and closed before it is read (one client held 19,900 connections,
the server's file limit, and health's p99 went to 1.6 s).

A response's deadline is a rate: while the server's writes are stalled on a client (its
transport's buffer over the high-water mark), the client has ``BPTT_CLIENT_TIMEOUT_S`` of
grace plus one second per ``BPTT_CLIENT_MIN_RATE`` bytes it has taken (acknowledged: what left
the transport's buffer and the kernel's send queue), summed over the connection's stalls. A
client that reads a little at a time does not restart it (it did: each read that let the
buffer drain renewed a fixed timeout), and the transport is aborted, not closed (``close()``
waits for the buffer to drain, which a client that never reads never lets happen: 60 such
clients held 163 MB of kernel queues and +277 MB in the worker for as long as they liked).

A request that is not valid HTTP gets uvicorn's 400, but as JSON in the API's error shape and
with the security headers (uvicorn's own is text/plain).

``bptt-studio serve`` runs it: ``uvicorn.run(..., http=PROTOCOL)``. ``HeadAsGetMiddleware``
(in the app itself) answers HEAD for every GET route, as HTTP expects and Starlette's own
routes do (FastAPI's do not: ``HEAD /api/v1/health`` was a 405).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import math
import socket
import struct
import termios
import time
from functools import lru_cache
from typing import Any

import h11
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.server import ServerState

from bptt_studio.core.errors import error_body
from bptt_studio.core.settings import get_settings
from bptt_studio.serving.security import COMMON_HEADERS, STRICT_CSP

PROTOCOL = "bptt_studio.serving.protocol:GuardedH11Protocol"

IDLE, HEAD, BODY, WRITE = "a new connection", "headers", "body", "response"

# A client can make the server log a line per connection it abandons, or per request that is
# not HTTP (41,475 lines in 25 s, tried as an attacker would): each such message is logged at
# most once every LOG_EVERY_S, with the count of those left out since.
LOG_EVERY_S = 1.0
_last_logged: dict[str, tuple[float, int]] = {}


def _throttled(msg: str) -> str | None:
    """``msg`` as it is to be logged now (with the count of those left out since), or None
    when it was logged less than LOG_EVERY_S ago."""
    now = time.monotonic()
    last, left_out = _last_logged.get(msg, (-LOG_EVERY_S, 0))
    if now - last < LOG_EVERY_S:
        _last_logged[msg] = (last, left_out + 1)
        return None
    _last_logged[msg] = (now, 0)
    return f"{msg} (and {left_out} more like it in the last {now - last:.0f} s)" \
        if left_out else msg


def log_throttled(logger: logging.Logger, msg: str, *args: object) -> None:
    """``logger.info(msg, *args)`` at most once every LOG_EVERY_S per ``msg``."""
    line = _throttled(msg)
    if line is not None:
        logger.info(line, *args)


class ThrottledLines(logging.Filter):
    """uvicorn's own line per request that is not HTTP, throttled as ``log_throttled``."""

    MESSAGES = frozenset({"Invalid HTTP request received."})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in self.MESSAGES:
            return True
        line = _throttled(str(record.msg))
        if line is None:
            return False
        record.msg = line
        return True


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


# What the stalled clients' transports hold at most, between them (app/serving/memory.py's bound
# counts it): eight responses of 8 MB, which a class on slow links does not reach (the kernel's own
# buffers take the first few MB of each response).
STALLED_BYTES = 64 * 1024 * 1024


class _Connections:
    """The connections of this worker process, in all and per client address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_client: dict[str, int] = {}
        self.stalled_bytes = 0  # the transports' buffers of the clients stalled now

    def add(self, client: str | None) -> None:
        self.total += 1
        if client is not None:
            self.by_client[client] = self.by_client.get(client, 0) + 1

    def remove(self, client: str | None) -> None:
        self.total -= 1
        if client is not None:
            left = self.by_client.pop(client) - 1
            if left:
                self.by_client[client] = left


CONNECTIONS = _Connections()


@lru_cache(maxsize=4)
def _trusted(forwarded_allow_ips: str) -> Any:
    """uvicorn's own reading of FORWARDED_ALLOW_IPS (addresses, networks, "*")."""
    from uvicorn.middleware.proxy_headers import _TrustedHosts

    return _TrustedHosts(forwarded_allow_ips)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's H11Protocol with a deadline per phase of a request, and JSON errors."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not any(isinstance(f, ThrottledLines) for f in self.logger.filters):
            self.logger.addFilter(ThrottledLines())
        settings = get_settings()
        self.client_timeout = settings.client_timeout_s
        self.min_rate = settings.client_min_rate
        self._phase: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        # The writes stalled on this client: seconds and bytes taken over the ended stalls,
        # and the current stall's start and the bytes pending at its start.
        self._stalled_s = 0.0
        self._taken = 0
        self._stall_start: float | None = None
        self._stall_pending = 0
        self._stall_held = 0  # this stall's share of CONNECTIONS.stalled_bytes
        self._counted_as: str | None = None  # the client address counted (None: a proxy)
        self._counting = False

    # -- the phases ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        allowed = self.config.forwarded_allow_ips
        proxy = address is None or address in _trusted(
            ",".join(allowed) if isinstance(allowed, list) else str(allowed))
        self._counted_as = None if proxy else address
        CONNECTIONS.add(self._counted_as)
        self._counting = True
        settings = get_settings()
        if CONNECTIONS.total > settings.max_connections:
            self._refuse(503, f"the server holds {settings.max_connections} connections, the "
                              f"most it takes (BPTT_MAX_CONNECTIONS)", "busy")
        elif (self._counted_as is not None and CONNECTIONS.by_client[self._counted_as]
              > settings.max_connections_per_client):
            self._refuse(429, f"your address holds {settings.max_connections_per_client} "
                              f"connections to this server, the most it takes from one client "
                              f"(BPTT_MAX_CONNECTIONS_PER_CLIENT); close one before opening "
                              f"another", "too_many_connections")
        else:
            self._enter(IDLE)

    def _refuse(self, status: int, msg: str, type_: str) -> None:
        """Answer a connection over a limit before reading it, and close it."""
        log_throttled(self.logger, "refusing a connection: %s", msg)
        retry = max(1, math.ceil(self.client_timeout))  # when held connections time out
        self.transport.write(error_response(
            status, msg, type_, [*self.server_state.default_headers,
                                 (b"retry-after", str(retry).encode())]))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_start is None:
            self._stall_start = time.monotonic()
            self._stall_pending = self._pending()
            self._stall_held = self.transport.get_write_buffer_size()
            CONNECTIONS.stalled_bytes += self._stall_held
            if CONNECTIONS.stalled_bytes > STALLED_BYTES:
                self._drop("the stalled clients' responses hold more than %d MB",
                           STALLED_BYTES // 2**20)
                return
        self._enter(WRITE)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._end_stall()
        if self._phase == WRITE:
            self._enter(None)
            self._follow()

    def _end_stall(self) -> None:
        if self._stall_start is not None:
            self._stalled_s += time.monotonic() - self._stall_start
            self._taken += max(0, self._stall_pending - self._pending())
            self._stall_start = None
            CONNECTIONS.stalled_bytes -= self._stall_held
            self._stall_held = 0

    def _pending(self) -> int:
        """Bytes written and not yet taken by the client: the transport's buffer and the
        kernel's send queue (unsent and unacknowledged, SIOCOUTQ)."""
        queued = array.array("i", [0])
        with contextlib.suppress(OSError, AttributeError, TypeError, ValueError):
            fcntl.ioctl(self.transport.get_extra_info("socket").fileno(), termios.TIOCOUTQ,
                        queued)
        return self.transport.get_write_buffer_size() + queued[0]

    def _write_time_left(self) -> float:
        """Seconds the stalled client has left: the grace, plus the time its rate allows for
        what it took, minus the time it has kept the server's writes stalled."""
        stalled, taken = self._stalled_s, self._taken
        if self._stall_start is not None:
            stalled += time.monotonic() - self._stall_start
            taken += max(0, self._stall_pending - self._pending())
        return self.client_timeout + taken / self.min_rate - stalled

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(None)
        self._end_stall()
        if self._counting:
            self._counting = False
            CONNECTIONS.remove(self._counted_as)
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
        if phase == WRITE:
            self._timer = self.loop.call_later(self._write_time_left(), self._write_expired)
        elif phase is not None:
            self._timer = self.loop.call_later(self.client_timeout, self._expired, phase)

    def _write_expired(self) -> None:
        """The stalled client's deadline, checked again with what it has taken since; past
        it, the connection is dropped with everything still queued for it."""
        self._timer = None
        left = self._write_time_left()
        if left > 0:
            self._timer = self.loop.call_later(left, self._write_expired)
            return
        self._drop("its client took its response slower than %d bytes/s after %g s",
                   self.min_rate, self.client_timeout)

    def _drop(self, why: str, *args: object) -> None:
        """Reset the connection, with everything still queued for the client."""
        log_throttled(self.logger, "dropping a connection: " + why, *args)
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        # A reset, not a close: a closed socket would stay in the kernel as an orphan, still
        # delivering (or probing with) its send queue of up to a few MB for minutes.
        with contextlib.suppress(OSError, AttributeError):
            self.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _expired(self, phase: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        unanswered = self.cycle is None or not self.cycle.response_started or phase == HEAD
        if phase in (HEAD, BODY) and unanswered:
            log_throttled(self.logger, "closing a connection: its request's %s did not "
                                       "arrive within %g s", phase, self.client_timeout)
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


class ProtocolChecksMiddleware:
    """Pure ASGI: what h11 lets through and HTTP/1.1 refuses, answered in JSON and closed.

    - a request with both Content-Length and Transfer-Encoding (RFC 9112, 6.3: a server may
      refuse it, and must close the connection after it; a proxy that frames it one way and
      the server the other is how requests are smuggled), 400;
    - an HTTP version other than 1.0 or 1.1 (h11 takes "HTTP/9.9" as 1.1), 505.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = {name.lower() for name, _ in scope.get("headers", ())}
            refusal: tuple[int, str, str] | None = None
            if b"content-length" in names and b"transfer-encoding" in names:
                refusal = (400, "a request may not carry both Content-Length and "
                                "Transfer-Encoding (RFC 9112, 6.3)", "http_invalid")
            elif scope.get("http_version") not in ("1.0", "1.1"):
                refusal = (505, f"HTTP/{scope.get('http_version')} is not supported: send "
                                f"HTTP/1.1", "http_version")
            if refusal is not None:
                status, msg, type_ = refusal
                body = orjson.dumps(error_body([{"loc": [], "msg": msg, "type": type_}]))
                await send({"type": "http.response.start", "status": status, "headers": [
                    (b"content-type", b"application/json"), (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


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
