"""The cell protocol (engine.cell.Cell): every registered cell declares itself, and the
engine reads only those declarations. mypy checks the modules against the protocol
(``CELLS: dict[str, Cell]`` in engine/cells.py, part of make lint); these tests check the
declarations against what the cells compute."""

from __future__ import annotations

import numpy as np
import pytest

from bptt_studio.engine import CELLS, Cell, RequestError, gradcheck, run_trace, train
from bptt_studio.engine.cells.protocol import OUTPUT_PARAMS, all_params, delta_field
from bptt_studio.engine.cells.registry import rnn
from tests.engine_helpers import small_request

NAMES = list(CELLS)
# CONTRACT.md's parameter names, in its order
CONTRACT_PARAMS = {
    "rnn": ["W", "U", "b", "V", "b_y"],
    "lstm": ["W_f", "U_f", "b_f", "W_i", "U_i", "b_i", "W_g", "U_g", "b_g", "W_o", "U_o", "b_o",
             "V", "b_y"],
    "gru": ["W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_h", "V", "b_y"],
}


def _path(event, path):
    value = event
    for part in path.split("."):
        value = value[part]
    return np.asarray(value)


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_cell_implements_the_cell_protocol(name):
    assert isinstance(CELLS[name], Cell)


@pytest.mark.parametrize("name", NAMES)
def test_each_cell_declares_the_contracts_parameter_names_in_order(name):
    assert list(all_params(CELLS[name])) == CONTRACT_PARAMS[name]


@pytest.mark.parametrize("name", NAMES)
def test_parameter_shapes_follow_each_cells_shape_rules(name):
    result = run_trace(small_request(name))
    sizes = result["sizes"]
    for param, spec in all_params(CELLS[name]).items():
        assert result["params"][param].shape == spec.size(sizes["H"], sizes["D"], sizes["K"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("schedule", ["full", "k1_lt_k2"])
def test_every_contribution_is_the_product_of_the_two_factors_its_cell_declares(name,
                                                                                 schedule):
    result = run_trace(small_request(name, schedule=schedule))
    forward = {e["t"]: e for e in result["events"] if e["kind"] == "forward"}
    for event in (e for e in result["events"] if e["kind"] == "backward"):
        for param, spec in all_params(CELLS[name]).items():
            left = _path(event, spec.left)
            expected = left if spec.right is None else np.outer(
                left, _path(forward[event["t"]], spec.right))
            np.testing.assert_allclose(event["contrib"][param], expected, rtol=1e-12,
                                       atol=1e-15, err_msg=f"{param} at t={event['t']}")


@pytest.mark.parametrize("name", NAMES)
def test_events_carry_the_state_gates_and_deltas_each_cell_declares(name):
    cell = CELLS[name]
    result = run_trace(small_request(name))
    forward = next(e for e in result["events"] if e["kind"] == "forward")
    backward = next(e for e in result["events"] if e["kind"] == "backward")
    for state in cell.STATE:
        assert f"{state}_prev" in forward and state in forward
    if cell.GATES:
        assert set(forward["gates"]) == set(forward["a"]) == set(cell.GATES)
        assert set(backward["deltas"]) == set(cell.DELTA_KEYS)
    else:
        assert forward["gates"] is None
        assert delta_field(cell) == "delta" and "delta" in backward
    assert all(f"d{state}_start" in result["updates"][0] for state in cell.STATE)


def test_the_output_layer_is_declared_once_for_every_cell():
    assert OUTPUT_PARAMS["V"].factors == ("g_o", "h")
    assert OUTPUT_PARAMS["b_y"].factors == ("g_o", None)


def test_a_cell_registered_under_a_new_name_runs_everywhere_with_no_other_change(monkeypatch):
    # a cell is one module plus its registration: the schedule, events, diagnostics, the
    # gradient check and training read only its declarations
    monkeypatch.setitem(CELLS, "elman", rnn)
    request = small_request("rnn", schedule="k1_lt_k2", jacobian_norms=True)
    mine, theirs = run_trace({**request, "cell": "elman"}), run_trace(request)
    assert mine["loss"] == theirs["loss"]
    assert mine["diagnostics"] == theirs["diagnostics"]
    assert gradcheck({**request, "cell": "elman"})["ok"] is True
    assert train({**request, "cell": "elman"}, 3)["losses"] == train(request, 3)["losses"]


def test_an_unregistered_cell_is_refused_naming_the_registered_ones():
    with pytest.raises(RequestError) as error:
        run_trace({"cell": "elman"})
    assert error.value.loc == ("cell",)
    assert all(repr(name) in error.value.msg for name in CELLS)
