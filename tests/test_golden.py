"""The engine against golden numbers from PyTorch autograd (tests/golden/*.json).

tools/make_golden.py writes the files with torch; these tests need only NumPy. Each file is
one request with explicit parameters, initial state and data, and what torch computed for it:
the step losses, the pass loss and, for every update window, its loss, raw and clipped
gradients, clip coefficient, parameters after the optimizer step and dL/dh(first-1).
The file's name says which behaviour it pins down.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bptt_studio.engine import run_trace

GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
RTOL, ATOL = 1e-9, 1e-12


def test_golden_files_are_present() -> None:
    assert FILES, f"no golden files in {GOLDEN}; run tools/make_golden.py with torch==2.13.0"


def close(got: Any, expected: Any, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=RTOL, atol=ATOL, err_msg=what)


def close_dict(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    assert sorted(got) == sorted(expected), f"{what}: parameter names differ"
    for name, value in expected.items():
        close(got[name], value, f"{what}[{name!r}]")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_engine_matches_torch_autograd(path: Path) -> None:
    golden = json.loads(path.read_text())
    expected = golden["expected"]
    result = run_trace(golden["request"])

    close(result["step_losses"], expected["step_losses"], "step_losses")
    close(result["loss"], expected["loss"], "loss")
    assert len(result["updates"]) == len(expected["updates"]), "number of updates"
    for i, (got, want) in enumerate(zip(result["updates"], expected["updates"], strict=True)):
        where = f"updates[{i}]"
        assert got["t"] == want["t"], f"{where}.t"
        assert list(got["window"]) == want["window"], f"{where}.window"
        close(got["loss"], want["loss"], f"{where}.loss")
        close_dict(got["grads"], want["grads"], f"{where}.grads")
        close(got["grad_norm"], want["grad_norm"], f"{where}.grad_norm")
        if want["clip_coef"] is not None:  # null for clipping by value: no single coefficient
            close(got["clip_coef"], want["clip_coef"], f"{where}.clip_coef")
        assert bool(got["clipped"]) == want["clipped"], f"{where}.clipped"
        close_dict(got["clipped_grads"], want["clipped_grads"], f"{where}.clipped_grads")
        close_dict(got["params_after"], want["params_after"], f"{where}.params_after")
        close(got["dh_start"], want["dh_start"], f"{where}.dh_start")
        if "dc_start" in want:
            close(got["dc_start"], want["dc_start"], f"{where}.dc_start")
