"""The result describes its cell: ``cell_spec`` names, for every parameter, the two recorded
factors whose product is each step's contribution, and the page draws from it.

The central test reads each factor from the events by the path the spec gives and checks that
their product is the event's ``contrib`` for every backward step of every cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bptt_studio.engine import run_trace
from bptt_studio.engine.cells.registry import cell_spec, declarations
from bptt_studio.engine.request.params import param_shapes
from tests.engine_helpers import CELL_NAMES, CELL_VARIANTS

SCHEDULES = [None, {"k1": 2, "k2": 3}, {"k1": 3}]


def read(event: Any, path: str) -> Any:
    """The value at a dotted path of an event ("deltas.f" is event["deltas"]["f"])."""
    value = event
    for part in path.split("."):
        value = value[part]
    return value


def trace(cell: str, activation: str, truncation: dict | None = None) -> dict[str, Any]:
    return run_trace({"cell": cell, "activation": activation, "hidden_size": 3,
                      "data": {"text": "abcabd"}, "truncation": truncation, "seed": 4})


@pytest.mark.parametrize("truncation", SCHEDULES, ids=["full", "k1_2_k2_3", "chunks_3"])
@pytest.mark.parametrize(("cell", "activation"), CELL_VARIANTS)
def test_every_contribution_is_the_product_of_the_factors_the_spec_names(
        cell, activation, truncation):
    result = trace(cell, activation, truncation)
    forward = {ev["t"]: ev for ev in result["events"] if ev["kind"] == "forward"}
    backward = [ev for ev in result["events"] if ev["kind"] == "backward"]
    assert backward
    for event in backward:
        for name, entry in result["cell_spec"]["params"].items():
            left_path, right_path = entry["factors"]
            left = read(event, left_path)
            expected = (left if right_path is None
                        else np.outer(left, read(forward[event["t"]], right_path)))
            np.testing.assert_array_equal(event["contrib"][name], expected,
                                          err_msg=f"{name} at t={event['t']}")


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_spec_names_every_parameter_with_its_shape_in_the_parameters_order(cell):
    result = run_trace({"cell": cell, "hidden_size": 5, "data": {"text": "machine"}})
    spec = result["cell_spec"]["params"]
    assert list(spec) == list(result["params"])
    sizes = result["sizes"]
    shapes = param_shapes(cell, sizes["H"], sizes["D"], sizes["K"])
    assert {name: tuple(entry["shape"]) for name, entry in spec.items()} == shapes


@pytest.mark.parametrize(("cell", "state", "gates"), [
    ("rnn", ["h"], []), ("lstm", ["h", "c"], ["f", "i", "g", "o"]),
    ("gru", ["h"], ["z", "r", "n"])])
def test_state_and_gates_are_the_fields_the_forward_events_carry(cell, state, gates):
    result = run_trace({"cell": cell})
    spec = result["cell_spec"]
    assert (spec["state"], spec["gates"]) == (state, gates)
    first = result["events"][0]
    assert all(name in first for name in spec["state"])
    assert list(first["gates"] or {}) == spec["gates"]


def test_gru_candidate_weights_take_the_reset_state_r_times_h_prev_as_right_factor():
    spec = run_trace({"cell": "gru"})["cell_spec"]["params"]
    assert spec["W_h"]["factors"] == ["deltas.n", "rh_prev"]
    assert spec["W_z"]["factors"] == ["deltas.z", "h_prev"]
    assert spec["b_h"]["factors"] == ["deltas.n", None]


def test_output_layer_factors_are_the_output_error_and_the_state():
    spec = run_trace({})["cell_spec"]["params"]
    assert spec["V"]["factors"] == ["g_o", "h"]
    assert spec["b_y"]["factors"] == ["g_o", None]


def test_description_is_read_from_the_cell_declarations():
    from bptt_studio.engine.cells.registry import gru, lstm

    assert declarations(lstm).state == ("h", "c")
    assert declarations(gru).factors["W_h"] == ("deltas.n", "rh_prev")


def test_a_parameter_without_declared_factors_is_an_error():
    with pytest.raises(ValueError, match="no gradient factors"):
        cell_spec("rnn", {"W": np.zeros((2, 2)), "Q": np.zeros(2)})


def test_spec_travels_in_the_json_api_with_detail_norms_too(client):
    for detail in ("full", "norms"):
        response = client.post("/api/v1/trace", json={"cell": "gru", "detail": detail})
        assert response.status_code == 200
        spec = response.json()["cell_spec"]
        assert spec["params"]["W_h"] == {"shape": [4, 4], "factors": ["deltas.n", "rh_prev"]}
