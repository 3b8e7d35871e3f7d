"""The one error the engine raises for a bad request: where, and what would be accepted."""

from __future__ import annotations


class RequestError(ValueError):
    """A request the engine cannot run.

    ``loc`` is the path of the offending field inside the request, e.g. ``("truncation", "k2")``
    or ``("params", "W")``; ``msg`` says what was given and what would be accepted.
    """

    def __init__(self, loc: tuple[str | int, ...] | str, msg: str) -> None:
        self.loc: tuple[str | int, ...] = (loc,) if isinstance(loc, str) else tuple(loc)
        self.msg = msg
        super().__init__(f"{'.'.join(str(part) for part in self.loc)}: {msg}")
