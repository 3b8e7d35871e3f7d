"""Waiting for a page that settles in its own time.

A browser test that sleeps a fixed time and then asserts passes on a quiet machine and fails on a
busy one. ``eventually`` asks again until the check holds (or a generous deadline passes), so a
slow machine only makes the test slower.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    """``check()``'s value once it raises no AssertionError; its last AssertionError when the
    deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)
