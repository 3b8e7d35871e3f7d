"""The QR code of a room's link, as SVG (segno: pure Python, no dependencies).

The link is the studio page the teacher's browser shows (``page``: its address without query or
fragment, as the browser knows it; the server never guesses its own public address from the
Host header) with ``?room=<code>``. Error correction M (15 % of the code may be hidden or
smudged on a projector); the SVG has a viewBox and no size, so the page sizes it.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno

MAX_PAGE_LENGTH = 512


def page_problem(page: str) -> str | None:
    """Why ``page`` cannot be the studio page's address (None when it can)."""
    if len(page) > MAX_PAGE_LENGTH:
        return f"the page's address is over {MAX_PAGE_LENGTH} characters"
    parts = urlsplit(page)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "the page's address must be an absolute http:// or https:// address"
    if parts.query or parts.fragment or "?" in page or "#" in page:
        return "the page's address must have no query (?...) and no fragment (#...)"
    if any(c.isspace() or ord(c) < 32 for c in page):
        return "the page's address must have no spaces or control characters"
    return None


def room_link(page: str, room: str) -> str:
    return f"{page}?room={room}"


def qr_svg(link: str, title: str) -> bytes:
    code = segno.make(link, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", xmldecl=False, omitsize=True, border=4, dark="#000",
              light="#fff", title=title)
    return out.getvalue()
