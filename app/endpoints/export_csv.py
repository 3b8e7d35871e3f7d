"""POST /api/v1/export/csv: the whole trace as one tidy CSV (engine.tidy), one row per number.

The body is /trace's; ``detail`` is /trace's too: "full" matrices exactly when /trace would
send them in full (the same estimate against BPTT_MAX_RESPONSE_BYTES), else "norms" for
"auto" and a 413 for an explicit "full" (``detail.csv_detail``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt_studio import engine
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.detail import csv_detail
from bptt_studio.engine import Plan
from bptt_studio.engine.outputs.tidy import to_csv_bytes

MEDIA_TYPE = "text/csv; charset=utf-8"
FILENAME = "bptt-trace.csv"
# For the OpenAPI document: what a 200 holds.
OPENAPI_200: dict[str, Any] = {
    "description": "the tidy CSV (docs/export-csv.md), as an attachment",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def plan(request: dict[str, Any], options: dict[str, Any]) -> Plan:
    return engine.plan(request)


def run(job: Plan, options: dict[str, Any], settings: Settings) -> bytes:
    """The trace of an admitted plan as CSV, UTF-8 bytes."""
    with np.errstate(all="ignore"):  # overflow shows as empty values, never as a warning
        result = engine.run_trace(job)
        detail = csv_detail(result, options.get("detail", "auto"), settings)
        return to_csv_bytes(result, detail)
