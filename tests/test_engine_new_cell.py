"""A new cell is one module: a cell defined in the tests alone (tests/mgu_cell.py, a minimal
gated unit with a peephole-style diagonal) is served by every entry of the engine once it is
registered, and refused when a declaration or its cost calibration is missing.

The API serves it too: tests/test_api_new_cell.py starts the app with ``BPTT_CELLS=mgu_cell``.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import types
from pathlib import Path

import mgu_cell
import numpy as np
import pytest

from bptt_studio.engine import (
    CELLS,
    gradcheck,
    initial_params,
    neuron_view,
    plan,
    run_trace,
    to_csv,
    torch_script,
    train,
)
from bptt_studio.engine.bptt.schedule import run_schedule
from bptt_studio.engine.cells.registry import register, unregister
from bptt_studio.engine.planning.cost import Output, cpu_coefficients, estimate
from bptt_studio.engine.planning.plan import problem_of
from bptt_studio.engine.tasks.gradcheck import window_loss, window_versions
from tests.engine_helpers import (
    SCHEDULES,
    assert_gradients_close,
    central_difference,
    small_request,
)
from tests.test_engine_neuron import assert_view_matches_trace, positions


@pytest.fixture
def mgu():
    register(mgu_cell)
    yield mgu_cell.NAME
    unregister(mgu_cell.NAME)


def without(name: str) -> types.SimpleNamespace:
    """The test cell's declarations and functions, one of them left out."""
    names = {key: getattr(mgu_cell, key) for key in dir(mgu_cell) if not key.startswith("_")}
    names.pop(name)
    return types.SimpleNamespace(**names)


# ---- registering -----------------------------------------------------------------------------


def test_a_registered_cell_is_accepted_by_requests_and_listed(mgu):
    assert CELLS[mgu] is mgu_cell
    assert plan({"cell": mgu}).cell == mgu


def test_a_cell_without_cost_calibration_is_refused_when_it_registers():
    with pytest.raises(ValueError, match="COST"):
        register(without("COST"))
    assert "mgu" not in CELLS


def test_a_cell_missing_part_of_its_calibration_is_refused_naming_it():
    partial = without("COST")
    partial.COST = {phase: dict(v) for phase, v in mgu_cell.COST.items() if phase != "replay"}
    with pytest.raises(ValueError, match="no cost calibration for replay steps"):
        register(partial)


@pytest.mark.parametrize("part", ["torch_step", "neuron_next", "neuron_deltas", "TITLE"])
def test_a_cell_missing_a_part_is_refused_naming_it(part):
    with pytest.raises(ValueError, match=part):
        register(without(part))


def test_a_diagonal_parameter_must_be_a_vector_of_h_weights_on_a_recorded_state():
    bad = without("PARAMS")
    bad.PARAMS = {**mgu_cell.PARAMS,
                  "p_f": mgu_cell.ParamSpec(("H",), "deltas.f", "x", diagonal=True)}
    with pytest.raises(ValueError, match="p_f is diagonal"):
        register(bad)


# ---- every entry of the engine ----------------------------------------------------------------


def test_params_draws_every_parameter_of_the_cell_with_its_kind(mgu):
    result = initial_params(small_request(mgu))
    assert list(result["params"]) == [*mgu_cell.PARAMS, "V", "b_y"]
    assert np.shape(result["params"]["p_f"]) == (3,)
    assert result["cell_spec"]["params"]["p_f"] == {"shape": [3], "factors": [
        "deltas.f", "h_prev"], "kind": "diagonal"}
    assert "kind" not in result["cell_spec"]["params"]["W_f"]


def test_a_trace_records_the_cells_gates_and_its_diagonal_contribution(mgu):
    result = run_trace(small_request(mgu))
    forward = next(e for e in result["events"] if e["kind"] == "forward")
    backward = next(e for e in result["events"] if e["kind"] == "backward")
    assert set(forward["gates"]) == {"f", "n"} and "fh_prev" in forward
    t = backward["t"]
    h_prev = next(e["h_prev"] for e in result["events"] if e["kind"] == "forward" and e["t"] == t)
    # a diagonal's contribution is delta * right, elementwise
    np.testing.assert_array_equal(backward["contrib"]["p_f"],
                                  np.asarray(backward["deltas"]["f"]) * np.asarray(h_prev))
    assert result["diagnostics"] is not None and result["non_finite"] is False


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_gradient_matches_finite_differences(mgu, schedule):
    problem = problem_of(plan(small_request(mgu, schedule=schedule)))
    run = run_schedule(problem)
    for index, update in enumerate(run.updates):
        versions = window_versions(run, index)
        for name in problem.params:
            def loss_of(value, name=name, index=index, versions=versions):
                moved = {v: {**p, name: p[name] + (value - versions[min(versions)][name])}
                         for v, p in versions.items()}
                return window_loss(problem, run, index, moved)

            numeric = central_difference(loss_of, versions[min(versions)][name])
            assert_gradients_close(update["grads"][name], numeric,
                                   f"{name} in window {update['window']}")


def test_gradcheck_passes_for_the_new_cell(mgu):
    result = gradcheck(small_request(mgu, schedule="k1_lt_k2"))
    assert result["ok"], result["max_rel_error"]
    assert set(result["max_rel_error"]) == {*mgu_cell.PARAMS, "V", "b_y"}


def test_training_lowers_the_loss(mgu):
    result = train(small_request(mgu, optimizer={"name": "adam", "lr": 0.05}), iterations=30)
    assert result["losses"][-1] < result["losses"][0]


@pytest.mark.parametrize("schedule", ["full", "k1_lt_k2"])
def test_the_neuron_view_sums_to_the_trace_at_every_step_and_unit(mgu, schedule):
    result = run_trace(small_request(mgu, schedule=schedule))
    for update, t in positions(result):
        for j in range(result["sizes"]["H"]):
            view = assert_view_matches_trace(result, update, t, j)
            assert set(view["deltas"]) == {"f", "n"}


def test_the_neuron_view_names_the_peephole_path_from_the_next_step(mgu):
    result = run_trace(small_request(mgu))
    terms = neuron_view(result, 1, 0)["dh"]["terms"][1]["terms"]
    assert [term["name"] for term in terms] == [
        "dh_next.direct", "dh_next.through_f", "dh_next.f", "dh_next.peephole"]


def test_the_tidy_csv_has_a_row_for_every_entry_of_the_diagonal_under_its_gate(mgu):
    result = run_trace(small_request(mgu))
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    first = next(i for i, e in enumerate(result["events"], start=1) if e["kind"] == "backward")
    peephole = [row for row in rows if row["quantity"] == "contrib.p_f"
                and row["event"] == str(first)]
    assert [(row["gate"], row["row"], row["column"]) for row in peephole] == [
        ("f", str(i), "0") for i in range(3)]


def test_the_cost_model_prices_the_cell_with_its_own_calibration(mgu):
    work = plan(small_request(mgu, schedule="k1_lt_k2"), task="train", iterations=5).work
    assert cpu_coefficients("pass", mgu)[f"steps_{mgu}"] == mgu_cell.COST["pass"]["steps"]
    assert cpu_coefficients("gradcheck", mgu)[f"evaluations_{mgu}"] > 0
    assert estimate(work, Output("json")).cpu_seconds > 0


def test_the_pytorch_script_builds_the_cell_from_its_own_step(mgu):
    script = torch_script(small_request(mgu))
    assert 'p["p_f"] * h' in script and "minimal gated unit with a peephole" in script
    compile(script, "bptt_check_in_pytorch.py", "exec")


def test_the_pytorch_script_of_the_new_cell_runs_and_all_match(mgu, tmp_path):
    torch_python = os.environ.get("TORCH_PYTHON", "/tmp/torchvenv/bin/python")
    if not Path(torch_python).exists():
        pytest.skip(f"PyTorch check not run: no interpreter with torch at {torch_python}")
    (tmp_path / "check.py").write_text(torch_script(small_request(mgu, schedule="k1_lt_k2")))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([torch_python, "check.py"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "all match"
