"""The ``detail`` option of a trace: its full matrices, or their norms, as the response's
limit allows (/trace, /train's trace, /export/csv, and the notebook widget, which draws a
trace as the API would send it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bptt_studio.core.errors import ApiError
from bptt_studio.core.jsonio import all_finite
from bptt_studio.core.settings import Settings
from bptt_studio.engine.outputs.detail import (
    EVENT_MATRICES,
    UPDATE_MATRICES,
    summary,
    with_norms,
)
from bptt_studio.serving.limits import BYTES_PER_NUMBER


def trace_payload(result: dict[str, Any], detail: str, settings: Settings) -> dict[str, Any]:
    """The trace as the API sends it: full matrices or their norms, ``non_finite`` certain.

    "auto" sends full matrices while the estimated response stays under
    ``max_response_bytes``; an explicit "full" over it is a 413 that says to ask for norms.
    "summary" sends no events (engine.outputs.detail.summary).
    """
    chosen = detail
    if detail in ("auto", "full"):
        estimate = estimate_full_bytes(result)
        if estimate <= settings.max_response_bytes:
            chosen = "full"
        elif detail == "auto":
            chosen = "norms"
        else:
            raise ApiError(413, ("body", "detail"),
                           f"the full trace would be about {estimate / 1e6:.1f} MB, over the "
                           f"server's limit of {settings.max_response_bytes / 1e6:.1f} MB "
                           f"(BPTT_MAX_RESPONSE_BYTES); ask for \"detail\": \"norms\" (every "
                           f"per-step matrix replaced by its Frobenius norm), or a smaller "
                           f"hidden_size or a shorter sequence", "response_too_large")
    payload = (summary(result) if chosen == "summary" else
               with_norms(result) if chosen == "norms" else _materialised(result))
    payload["non_finite"] = bool(result["non_finite"]) or not all_finite(_formed(payload))
    payload["detail"] = chosen
    return payload


def csv_detail(result: dict[str, Any], detail: str, settings: Settings) -> str:
    """"full" or "norms" for this trace, as /trace decides; an explicit "full" over the
    limit is a 413 naming ``detail``."""
    if detail == "norms":
        return detail
    estimate = estimate_full_bytes(result)
    if estimate <= settings.max_response_bytes:
        return "full"
    if detail == "auto":
        return "norms"
    numbers = estimate // BYTES_PER_NUMBER
    raise ApiError(413, ("body", "detail"),
                   f"the full trace holds about {numbers / 1e6:.1f} million numbers, one CSV "
                   f"row each; the server exports full matrices only while the trace's JSON "
                   f"stays under {settings.max_response_bytes / 1e6:.1f} MB "
                   f"(BPTT_MAX_RESPONSE_BYTES), and this one would be about "
                   f"{estimate / 1e6:.1f} MB; ask for \"detail\": \"norms\" (every per-step "
                   f"matrix replaced by its Frobenius norm), or a smaller hidden_size or a "
                   f"shorter sequence", "response_too_large")


# The engine's non_finite covers every number it recorded (engine.run). What the payload forms
# afterwards from finite numbers can still overflow on its own: a running sum of finite
# contributions, the norm of finite entries, an outer product. Only those fields are walked
# (walking the whole payload again cost more than writing its JSON).
FORMED_EVENT_FIELDS = (*EVENT_MATRICES, "norms", "accum_norms")


def _formed(payload: dict[str, Any]) -> list[Any]:
    """The payload's numbers formed after the engine's own check of its result."""
    formed: list[Any] = [payload["params"]]
    for event in payload["events"]:
        if event.get("kind") == "backward":
            formed += [event.get(key) for key in FORMED_EVENT_FIELDS]
    for update in payload["updates"]:
        formed += [update.get(key) for key in UPDATE_MATRICES]
    return formed


def _materialised(result: dict[str, Any]) -> dict[str, Any]:
    """The result with the lazy contrib/accum mappings formed into dicts, once."""
    events = []
    for event in result["events"]:
        if event.get("kind") == "backward":
            event = {**event, **{key: dict(event[key]) for key in EVENT_MATRICES
                                 if isinstance(event.get(key), Mapping)}}
        events.append(event)
    return {**result, "events": events}


def estimate_full_bytes(result: dict[str, Any]) -> int:
    """About how large the full trace's JSON is, from its shapes, without forming it.

    Every parameter-shaped array holds P numbers (the sizes of the parameters): two per
    backward event (contrib, accum), four per update, one for the initial params. The
    vectors are counted on one event of each kind and multiplied by the count of that kind.
    """
    params = result["params"]
    P = sum(int(np.size(a)) for a in params.values())
    events = result["events"]
    kinds: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        kinds.setdefault(event.get("kind", ""), []).append(event)
    numbers = P
    for kind, group in kinds.items():
        sample = {k: v for k, v in group[0].items() if k not in EVENT_MATRICES}
        numbers += len(group) * _count(sample)
        if kind == "backward":
            numbers += len(group) * 2 * P
    for update in result["updates"][:1]:
        sample = {k: v for k, v in update.items() if k not in UPDATE_MATRICES}
        present = sum(1 for k in UPDATE_MATRICES if update.get(k) is not None)
        numbers += len(result["updates"]) * (_count(sample) + present * P)
    rest = {k: v for k, v in result.items() if k not in ("events", "updates", "params")}
    numbers += _count(rest)
    return numbers * BYTES_PER_NUMBER


def _count(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values()) + len(value)
    if isinstance(value, list | tuple):
        if value and not isinstance(value[0], list | tuple | Mapping | np.ndarray):
            return len(value)
        return sum(_count(v) for v in value)
    return 1
