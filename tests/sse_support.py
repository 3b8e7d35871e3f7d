"""A server-sent events client for the tests: a real HTTP stream (httpx) read in a thread,
its events parsed as a browser's EventSource parses them."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass

import httpx
import orjson


@dataclass
class Event:
    name: str
    data: dict
    id: str | None


def parse_block(lines: list[str]) -> Event | str | None:
    """An event, a comment's text (a line starting with ':'), or None (the retry field)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            return line[1:].strip()
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    if "data" not in fields:
        return None
    return Event(fields.get("event", "message"), orjson.loads(fields["data"]), fields.get("id"))


class Stream:
    """``GET url`` as an event stream; ``next()`` the next event (or comment), None once the
    server closed it."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._cm = self.client.stream("GET", url, headers=headers)
        self.response = self._cm.__enter__()
        self.items: queue.Queue[Event | str | None] = queue.Queue()
        self.closed = False
        if self.response.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.response.read()

    def _read(self) -> None:
        block: list[str] = []
        try:
            for line in self.response.iter_lines():
                if line:
                    block.append(line)
                    continue
                item = parse_block(block)
                block = []
                if item is not None:
                    self.items.put(item)
        except (httpx.HTTPError, OSError, ValueError):
            pass
        self.items.put(None)

    def next(self, timeout: float = 5.0) -> Event | str | None:
        try:
            item = self.items.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if item is None:
            self.closed = True
        return item

    def next_event(self, name: str | None = None, timeout: float = 5.0) -> Event | None:
        """The next event (of that name) within ``timeout``, skipping comments and other
        events."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.0, deadline - time.monotonic()))
            if item is None or (isinstance(item, Event) and name in (None, item.name)):
                return item

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cm.__exit__(None, None, None)
        self.client.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
