"""The PyTorch script of a bugged trace names the gradients that do not match (run with the
interpreter TORCH_PYTHON names, as tests/test_torch_export.py does)."""

from __future__ import annotations

import pytest

from bptt_studio.engine import gradcheck, torch_script
from bptt_studio.engine.request.bugs import BUGS
from tests.test_torch_export import run_script, torch_python  # noqa: F401 - the fixture

CASES = [(bug.id, cell) for bug in BUGS.values() for cell in bug.cells]


@pytest.mark.slow
@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_the_script_of_a_bugged_trace_names_the_gradients_that_do_not_match(
        torch_python, tmp_path, bug_id, cell):  # noqa: F811 - the fixture
    request = {**BUGS[bug_id].scenario, "cell": cell, "bug": bug_id}
    run = run_script(torch_python, torch_script(request), tmp_path)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    differ = run.stdout.strip().splitlines()[-1]
    wrong = [name for name, err in gradcheck(request)["max_rel_error"].items() if err > 1e-5]
    for name in wrong:  # each gradient the finite differences reject, named by PyTorch too
        assert f"dL/d{name} (window" in differ
    assert "comparison(s) differ" in differ
