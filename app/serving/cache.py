"""A bounded in-memory cache of the compute endpoints' responses, one per worker process.

The API is deterministic and keeps no per-user state: the same request body always gives
byte-identical response bytes (tests/test_api_http.py pins it). So a response, once computed,
can be replayed for the same request without validating it, running the engine or
serialising the result again -- what a class opening the same shared link needs.

What is cached: POST to /api/v1/trace, /api/v1/train, /api/v1/gradcheck and /api/v1/params
answered 200 with
a JSON body. Errors (400, 413, 422, 500, 503, 504) are never stored. The key is the path,
whether the client accepts gzip, and a BLAKE2b digest of the request's Content-Type (a
non-JSON Content-Type is answered 400, so it must not share an entry with a JSON one) and its
exact body bytes: 32 bytes whatever the client sends. The query string is not part of it
(these endpoints read none), so varying it neither misses nor fills the cache.

Where it sits: inside the body-size limit (so the body buffered here is already bounded), the
security headers and CORS (so a replayed response goes through them exactly as a fresh one
does), and outside gzip: what is stored is the response as gzip left it, compressed for
clients that accept gzip. Compressing a 3.7 MB trace takes about 25 ms, far more than the
rest of a hit, so a hit must not pay it again.

Bounded by ``BPTT_RESPONSE_CACHE_BYTES`` (the stored bodies plus ``ENTRY_OVERHEAD`` per
entry: the key, the entry, the dictionary's slot and link, measured with tracemalloc in
tests/test_api_cache.py), least recently used evicted first; a response larger than a quarter
of the budget is not stored. The response headers are kept once per distinct set (they differ
only in Content-Length, which is put back on replay), so they cost no memory per entry. Every
response of a cacheable request carries ``X-Cache: hit`` or ``X-Cache: miss``
(the only header in which a replay differs from a fresh response).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import NamedTuple

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The paths as constants: a key holds one of these, never the request's own string.
CACHED_PATHS = {path: path for path in ("/api/v1/trace", "/api/v1/train", "/api/v1/gradcheck",
                                        "/api/v1/params")}
# Memory per entry besides its body: the key (tuple and digest), the entry, the body's object
# header, the OrderedDict's slot and link: 313 bytes measured with tracemalloc (a test pins it).
ENTRY_OVERHEAD = 512
# Distinct header sets kept (a set is a few hundred bytes; there are two or three in practice).
MAX_HEADER_SETS = 64
HIT = (b"x-cache", b"hit")
MISS = (b"x-cache", b"miss")
CONTENT_LENGTH = b"content-length"

Key = tuple[str, bool, bytes]
Headers_ = tuple[tuple[bytes, bytes], ...]


class Entry(NamedTuple):
    headers: Headers_  # shared between entries; Content-Length's value left empty
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        length = str(len(self.body)).encode()
        return [(name, length if name == CONTENT_LENGTH else value)
                for name, value in self.headers]


class ResponseCacheMiddleware:
    """Pure ASGI: replays stored 200 JSON responses of the compute endpoints.

    No lock: the middleware runs on the event loop's one thread, and every read or change of
    ``entries``/``stored`` happens between two awaits, so no other request can interleave with
    it. (The endpoint handlers run in the thread pool, but they never touch the cache.) Two
    identical requests that arrive together both compute; the second store replaces the
    first's entry with the same bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 4
        self.entries: OrderedDict[Key, Entry] = OrderedDict()
        self.stored = 0  # sum of the entries' sizes
        self.header_sets: dict[Headers_, Headers_] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path") not in CACHED_PATHS):
            await self.app(scope, receive, send)
            return
        # The body-limit middleware outside this one has bounded (and already buffered) it.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        key = _key(scope, body)

        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            # A fresh header list: the middleware outside may edit it in place.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*entry.response_headers(), HIT]})
            await send({"type": "http.response.body", "body": entry.body})
            return

        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()  # after the body: http.disconnect when the client leaves

        headers: tuple[tuple[bytes, bytes], ...] | None = None
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal headers
            kind = message["type"]
            if kind == "http.response.start":
                raw = list(message.get("headers", []))
                if message["status"] == 200 and _is_json(raw):
                    headers = tuple(raw)  # copied before the middleware outside edits it
                message["headers"] = [*raw, MISS]
            elif kind == "http.response.body" and headers is not None:
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, Entry(self._shared(headers), b"".join(parts)))
            else:
                headers = None  # anything unusual (trailers, pathsend): not stored
            await send(message)

        await self.app(scope, replay, capture)

    def _shared(self, headers: Headers_) -> Headers_:
        """The header set with Content-Length blanked, one object per distinct set."""
        blank = tuple((name, b"" if name.lower() == CONTENT_LENGTH else value)
                      for name, value in headers)
        shared = self.header_sets.get(blank)
        if shared is not None:
            return shared
        if len(self.header_sets) < MAX_HEADER_SETS:
            self.header_sets[blank] = blank
        return blank

    def _store(self, key: Key, entry: Entry) -> None:
        if entry.size > self.max_entry_bytes:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.stored -= old.size
        self.entries[key] = entry
        self.stored += entry.size
        while self.stored > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.stored -= evicted.size


def _key(scope: Scope, body: bytes) -> Key:
    headers = Headers(scope=scope)
    # the very test GZipMiddleware makes: the stored bytes are compressed or not by it
    accepts_gzip = "gzip" in headers.get("accept-encoding", "")
    digest = hashlib.blake2b(digest_size=32)
    content_type = headers.get("content-type", "").encode("latin-1")
    digest.update(len(content_type).to_bytes(8, "big"))  # no two (type, body) pairs collide
    digest.update(content_type)
    digest.update(body)
    return CACHED_PATHS[scope["path"]], accepts_gzip, digest.digest()


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False
