"""Security headers on every response, and redirects that never name a host.

The strict policy is scoped to the app's own pages and API; the offline Swagger UI at /docs
needs inline script, so it gets a looser policy of its own.

Framing: by default no site may show the page in a frame (CSP ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``). ``BPTT_FRAME_ANCESTORS`` lists the sites that may (a course page
that embeds the studio, ``/?embed=1``): they become the page's ``frame-ancestors``, and
X-Frame-Options says the same where it can (it has no way to name another site: browsers that
know CSP ignore it whenever ``frame-ancestors`` is present, so it is left out then rather than
contradict the list).

Starlette builds a redirect's Location from the request's own Host header (a trailing slash
removed from /api/v1/trace/, added to /static): a client, or a cache in between, that sends
``Host: evil.example`` got ``Location: http://evil.example/api/v1/trace``. Every redirect of
this app stays on this server, so its Location is made relative: the path and query alone.
"""

from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bptt_studio.core.settings import frame_sources

# plotly.js injects inline styles and draws heatmaps through data: images; scripts need
# neither 'unsafe-inline' nor 'unsafe-eval'.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)
STRICT_CSP = f"{PAGE_CSP}; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/static-offline-docs")

BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
COMMON_HEADERS = [*BASE_HEADERS, (b"x-frame-options", b"DENY")]

def frame_policy(sources: list[str]) -> tuple[str, list[tuple[bytes, bytes]]]:
    """(the CSP of the app's pages and API, the headers beside it) for the allowed framers."""
    if not sources:
        return STRICT_CSP, COMMON_HEADERS
    csp = f"{PAGE_CSP}; frame-ancestors {' '.join(sources)}"
    if sources == ["'self'"]:
        return csp, [*BASE_HEADERS, (b"x-frame-options", b"SAMEORIGIN")]
    return csp, BASE_HEADERS


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streaming bodies)."""

    def __init__(self, app: ASGIApp, frame_ancestors: list[str] | None = None) -> None:
        self.app = app
        self.page_csp, self.page_headers = frame_policy(frame_sources(frame_ancestors or []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith(DOCS_PATHS)
        csp = DOCS_CSP if docs else self.page_csp
        extra = COMMON_HEADERS if docs else self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, relative(v) if k.lower() == b"location" else v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                headers.append((b"content-security-policy", csp.encode()))
                headers.extend(extra)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def relative(location: bytes) -> bytes:
    """A Location without its scheme and host: the path (one leading slash, never two: "//x"
    would name a host again) and the query."""
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight in the API's JSON shape (its own is a
    text/plain "Disallowed CORS origin")."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        body = orjson.dumps({"detail": [{"loc": ["header"], "msg": bytes(response.body).decode(
            "latin-1").replace("Disallowed CORS", "this server does not allow the CORS"),
            "type": "cors_refused"}]})
        headers = {k: v for k, v in response.headers.items()
                   if k not in ("content-type", "content-length")}
        return Response(body, status_code=response.status_code, headers=headers,
                        media_type="application/json")
