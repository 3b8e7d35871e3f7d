"""The neuron view: one unit's delta at one step as the sum it is, read from the trace.

Every node of the view must be what it says: a sum equals the sum of its terms, a product the
product of its factors, a dot the sum of weights[k] * signals[k]; and the recorded nodes carry
the trace's own numbers (dh_j(t), delta_j(t), every gate delta, dc_j(t)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt_studio.engine import RequestError, run_trace
from bptt_studio.engine.cells.registry import gru, lstm, rnn
from bptt_studio.engine.outputs.neuron import neuron, neuron_view
from tests.engine_helpers import CELL_NAMES, CELL_VARIANTS, SCHEDULES, small_request

REL = 1e-12
FAST = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def assert_sum_close(values, total, what):
    scale = math.fsum(abs(v) for v in values)  # the size of the rounding error of any order
    assert abs(math.fsum(values) - total) <= REL * scale, (what, values, total)


def assert_product_close(values, result, what):
    expected = math.prod(values)
    assert abs(expected - result) <= REL * abs(expected), (what, values, result)


def check_node(node):
    """Every node of the tree is the sum / product / dot it claims to be."""
    op = node["op"]
    if op == "sum":
        assert_sum_close([term["value"] for term in node["terms"]], node["value"], node["name"])
        for term in node["terms"]:
            check_node(term)
    elif op == "product":
        assert_product_close([f["value"] for f in node["factors"]], node["value"], node["name"])
        for factor in node["factors"]:
            check_node(factor)
    elif op == "dot":
        weights, signals = np.array(node["weights"]), np.array(node["signals"])
        assert node["products"] == (weights * signals).tolist()
        assert_sum_close(node["products"], node["value"], node["name"])
    else:
        assert op == "value"


def positions(result):
    """Every (update, t) of every window."""
    return [(i, t) for i, w in enumerate(result["windows"]) for t in range(w["first"],
                                                                             w["last"] + 1)]


def backward_event(result, update, t):
    return next(e for e in result["events"]
                if e["kind"] == "backward" and e["update"] == update and e["t"] == t)


def assert_view_matches_trace(result, update, t, j):
    view = neuron_view(result, t, j, update)
    event = backward_event(result, update, t)
    assert view["dh"]["value"] == event["dh"][j]
    assert_sum_close([term["value"] for term in view["dh"]["terms"]], event["dh"][j], "dh")
    dh_out, dh_next = view["dh"]["terms"]
    assert dh_out["value"] == event["dh_out"][j]
    assert dh_next["value"] == event["dh_next"][j]
    if view["cell"] == "rnn":
        delta = view["delta"]
        assert delta["value"] == event["delta"][j]
        assert_product_close([f["value"] for f in delta["factors"]], event["delta"][j], "delta")
        check_node(delta)
    else:
        assert list(view["deltas"]) == list(event["deltas"])
        for gate, node in view["deltas"].items():
            assert node["value"] == event["deltas"][gate][j]
            assert_product_close([f["value"] for f in node["factors"]],
                                 event["deltas"][gate][j], gate)
            check_node(node)
    if view["cell"] == "lstm":
        assert view["dc"]["value"] == event["dc"][j]
        check_node(view["dc"])
    check_node(view["dh"])
    return view


# ---------------------------------------------------------------------------------------------
# The terms sum to the trace's numbers, for every cell, activation and schedule.


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize(("cell", "activation"), CELL_VARIANTS)
def test_terms_sum_to_dh_and_factors_give_delta_at_every_step_and_unit(cell, activation,
                                                                       schedule):
    result = run_trace(small_request(cell, activation, schedule=schedule))
    for update, t in positions(result):
        for j in range(result["sizes"]["H"]):
            assert_view_matches_trace(result, update, t, j)


@st.composite
def traced_positions(draw):
    T = draw(st.integers(2, 6))
    D, K, H = draw(st.integers(1, 3)), draw(st.integers(2, 3)), draw(st.integers(1, 4))
    cell = draw(st.sampled_from(CELL_NAMES))
    loss = draw(st.sampled_from(["cross_entropy", "mse"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    truncation = None
    if draw(st.booleans()):
        k1 = draw(st.integers(1, T))
        truncation = {"k1": k1, "k2": draw(st.integers(k1, T + 1))}
    request = {
        "cell": cell, "hidden_size": H, "loss": loss, "output_size": K,
        "activation": draw(st.sampled_from(["tanh", "relu", "sigmoid"])),
        "loss_at": draw(st.sampled_from(["every", "last"])),
        "reduction": draw(st.sampled_from(["sum", "mean"])),
        "data": {"inputs": rng.normal(size=(T, D)).tolist(),
                 "targets": (rng.integers(0, K, size=T).tolist() if loss == "cross_entropy"
                             else rng.normal(size=(T, K)).tolist())},
        "truncation": truncation, "seed": draw(st.integers(0, 2**16)),
        "h0": rng.normal(size=H).tolist(), "spectral_radius": draw(st.floats(0.3, 3.0)),
        "optimizer": {"name": draw(st.sampled_from(["sgd", "momentum", "adam"])), "lr": 0.5},
    }
    result = run_trace(request)
    update, t = draw(st.sampled_from(positions(result)))
    return result, update, t, draw(st.integers(0, H - 1))


@FAST
@given(traced_positions())
def test_terms_sum_to_the_trace_for_a_random_request_step_and_unit(case):
    result, update, t, j = case
    assert_view_matches_trace(result, update, t, j)


# ---------------------------------------------------------------------------------------------
# Which numbers the terms are made of.


def test_rnn_terms_are_output_weights_times_output_errors_and_next_weights_times_next_deltas():
    result = run_trace(small_request("rnn"))
    view = neuron_view(result, 3, 1)
    event, later = backward_event(result, 0, 3), backward_event(result, 0, 4)
    params = result["params"]
    dh_out, dh_next = view["dh"]["terms"]
    assert dh_out["weights"] == params["V"][:, 1].tolist()
    assert dh_out["signals"] == event["g_o"].tolist()
    assert dh_next["weights"] == params["W"][:, 1].tolist()
    assert dh_next["signals"] == later["delta"].tolist()
    assert (dh_next["weight"], dh_next["signal"]) == ({"name": "W", "version": 0, "column": 1},
                                                      {"name": "delta", "t": 4})


def test_phi_prime_is_the_derivative_of_the_activation_at_the_recorded_step():
    for activation, expected in (("tanh", lambda a, h: 1 - h * h),
                                 ("sigmoid", lambda a, h: h * (1 - h)),
                                 ("relu", lambda a, h: float(a > 0))):
        result = run_trace(small_request("rnn", activation))
        phi_prime, _ = neuron_view(result, 2, 0)["delta"]["factors"]
        a, h = (leaf["value"] for leaf in phi_prime["of"])
        forward = result["events"][1]
        assert (a, h) == (forward["a"][0], forward["h"][0])
        assert phi_prime["value"] == pytest.approx(expected(a, h), rel=1e-15)


def test_next_step_terms_use_the_parameter_version_that_step_ran_on():
    # BPTT(2, 3) over 5 steps: the window of update 1 is steps 2..4; step 2 ran on the
    # initial parameters (version 0), steps 3 and 4 on those after update 0 (version 1).
    for cell in CELL_NAMES:
        result = run_trace(small_request(cell, schedule="k1_lt_k2"))
        view = neuron_view(result, 2, 0, update=1)
        assert (view["window"], view["version"], view["next"]) == ([2, 4], 0,
                                                                  {"t": 3, "version": 1})
        version_1 = result["updates"][1]["params_before"]
        assert not np.array_equal(version_1["W" if cell == "rnn" else "W_z" if cell == "gru"
                                            else "W_f"], result["params"][
            "W" if cell == "rnn" else "W_z" if cell == "gru" else "W_f"])
        dh_next = view["dh"]["terms"][1]
        dots = [dh_next] if cell == "rnn" else [n for n in dh_next["terms"] if n["op"] == "dot"]
        for node in dots:
            assert node["weight"]["version"] == 1
            assert node["weights"] == version_1[node["weight"]["name"]][:, 0].tolist()
        # V is the one the window's update formed dh_out with
        assert view["dh"]["terms"][0]["weights"] == version_1["V"][:, 0].tolist()


def test_lstm_dh_next_has_one_sum_per_gate_of_the_next_step():
    result = run_trace(small_request("lstm"))
    dh_next = neuron_view(result, 2, 1)["dh"]["terms"][1]
    later = backward_event(result, 0, 3)
    assert [n["name"] for n in dh_next["terms"]] == [f"dh_next.{g}" for g in lstm.GATES]
    for node, gate in zip(dh_next["terms"], lstm.GATES, strict=True):
        assert node["weights"] == result["params"][f"W_{gate}"][:, 1].tolist()
        assert node["signals"] == later["deltas"][gate].tolist()


def test_lstm_dc_is_the_output_path_plus_the_cell_path_from_the_next_step():
    result = run_trace(small_request("lstm"))
    dc = neuron_view(result, 2, 2)["dc"]
    from_h, from_next = dc["terms"]
    forward, forward_next = result["events"][1], result["events"][2]
    later = backward_event(result, 0, 3)
    dh_leaf, o_leaf, dtanh = from_h["factors"]
    assert (o_leaf["value"], dtanh["of"][0]["value"]) == (forward["gates"]["o"][2],
                                                         forward["c"][2])
    assert dtanh["value"] == pytest.approx(1 - np.tanh(forward["c"][2]) ** 2, rel=1e-15)
    assert [f["value"] for f in from_next["factors"]] == [later["dc"][2],
                                                          forward_next["gates"]["f"][2]]


def test_lstm_gate_deltas_multiply_the_factors_of_the_cell_equations():
    result = run_trace(small_request("lstm"))
    view = neuron_view(result, 3, 0)
    names = {gate: [f["name"] for f in node["factors"]] for gate, node in view["deltas"].items()}
    assert names == {"f": ["dc", "c_prev", "dgate.f"], "i": ["dc", "gates.g", "dgate.i"],
                     "g": ["dc", "gates.i", "dgate.g"], "o": ["dh", "tanh_c", "dgate.o"]}


def test_gru_dh_next_holds_the_direct_reset_and_gate_paths_of_the_next_step():
    result = run_trace(small_request("gru"))
    dh_next = neuron_view(result, 2, 1)["dh"]["terms"][1]
    later, forward_next = backward_event(result, 0, 3), result["events"][2]
    direct, reset, via_z, via_r = dh_next["terms"]
    assert [n["name"] for n in dh_next["terms"]] == ["dh_next.direct", "dh_next.reset",
                                                     "dh_next.z", "dh_next.r"]
    assert [f["value"] for f in direct["factors"]] == [later["dh"][1],
                                                       forward_next["gates"]["z"][1]]
    drh, r_leaf = reset["factors"]
    assert (drh["name"], drh["signal"]) == ("drh", {"name": "deltas.n", "t": 3})
    assert drh["weights"] == result["params"]["W_h"][:, 1].tolist()
    assert r_leaf["value"] == forward_next["gates"]["r"][1]
    assert via_z["signals"] == later["deltas"]["z"].tolist()
    assert via_r["weights"] == result["params"]["W_r"][:, 1].tolist()


def test_gru_reset_delta_takes_the_error_reaching_r_times_h_prev_at_its_own_step():
    result = run_trace(small_request("gru"))
    delta_r = neuron_view(result, 4, 2)["deltas"]["r"]
    drh, h_prev, _ = delta_r["factors"]
    event = backward_event(result, 0, 4)
    assert (drh["signal"], drh["signals"]) == ({"name": "deltas.n", "t": 4},
                                               event["deltas"]["n"].tolist())
    assert h_prev["value"] == result["events"][3]["h_prev"][2]
    assert [f["name"] for f in neuron_view(result, 4, 2)["deltas"]["z"]["factors"]] == [
        "dh", "h_prev_minus_n", "dgate.z"]
    assert gru.GATES == ("z", "r", "n")


def test_at_the_window_end_nothing_flows_back_from_the_next_step():
    result = run_trace(small_request("lstm", schedule="chunked"))  # windows 1..2, 3..4, 5..5
    view = neuron_view(result, 2, 0, update=0)
    assert view["next"] is None
    dh_next = view["dh"]["terms"][1]
    assert (dh_next["op"], dh_next["value"]) == ("value", 0.0)
    assert view["dc"]["terms"][1] == {"name": "dc_next", "t": 2, "op": "value",
                                      "kind": "error", "value": 0.0, "recorded": True}


def test_recorded_nodes_are_marked_and_derived_ones_are_not():
    view = neuron_view(run_trace(small_request("gru")), 2, 0)
    assert view["dh"]["recorded"] and view["deltas"]["z"]["recorded"]
    direct = view["dh"]["terms"][1]["terms"][0]
    assert not direct["recorded"]
    assert not view["deltas"]["n"]["factors"][2]["recorded"]  # dgate.n = 1 - n^2


# ---------------------------------------------------------------------------------------------
# Haykin's sign convention.


def _errors_and_others(node, errors, others):
    if node["op"] == "value":
        (errors if node["kind"] == "error" else others).append(node["value"])
        for inner in node.get("of", []):
            _errors_and_others(inner, errors, others)
        return
    errors.append(node["value"])  # every sum, product and dot is an error quantity
    if node["op"] == "dot":
        errors.extend(node["signals"] + node["products"])
        others.extend(node["weights"])
    for child in node.get("terms", []) + node.get("factors", []):
        _errors_and_others(child, errors, others)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_haykin_convention_negates_every_error_and_keeps_weights_states_and_derivatives(cell):
    result = run_trace(small_request(cell))
    ours, haykin = neuron_view(result, 3, 1), neuron_view(result, 3, 1, convention="haykin")
    assert haykin["convention"] == "haykin"
    keys = ["dh", "delta"] if cell == "rnn" else ["dh", "deltas"]
    for key in keys + (["dc"] if cell == "lstm" else []):
        roots = ours[key].values() if key == "deltas" else [ours[key]]
        mirror = haykin[key].values() if key == "deltas" else [haykin[key]]
        for a, b in zip(roots, mirror, strict=True):
            errors_a, others_a, errors_b, others_b = [], [], [], []
            _errors_and_others(a, errors_a, others_a)
            _errors_and_others(b, errors_b, others_b)
            assert errors_b == [-v for v in errors_a]
            assert others_b == others_a
            check_node(b)


def test_haykin_local_gradient_is_minus_our_delta():
    result = run_trace(small_request("rnn"))
    view = neuron_view(result, 2, 0, convention="haykin")
    assert view["delta"]["value"] == -backward_event(result, 0, 2)["delta"][0]


# ---------------------------------------------------------------------------------------------
# Where: validation, the default window, and reading only the trace.


@pytest.mark.parametrize(("position", "loc", "words"), [
    ({"t": 0, "unit": 0}, ("t",), "t runs 1..5"),
    ({"t": 6, "unit": 0}, ("t",), "t runs 1..5"),
    ({"t": 2, "unit": 3}, ("unit",), "units are 0..2 (0-based"),
    ({"t": 2, "unit": -1}, ("unit",), "units are 0..2"),
    ({"t": 2, "unit": 0, "update": 3}, ("update",), "updates 0..2"),
    ({"t": 5, "unit": 0, "update": 0}, ("t",), "steps 1..2; step 5 is in the window of update 2"),
    ({"t": 2.0, "unit": 0}, ("t",), "must be an integer"),
    ({"t": True, "unit": 0}, ("t",), "must be an integer"),
    ({"t": 2, "unit": 0, "convention": "goodfellow"}, ("convention",), "gradient, haykin"),
])
def test_neuron_rejects_a_position_outside_the_pass_naming_the_field(position, loc, words):
    with pytest.raises(RequestError) as caught:
        neuron(small_request("rnn", schedule="chunked"), **position)
    assert caught.value.loc == loc
    assert words in caught.value.msg


def test_without_an_update_the_first_window_holding_the_step_is_shown():
    result = run_trace(small_request("rnn", schedule="online_bptt_h"))  # BPTT(1, 3)
    view = neuron_view(result, 2, 0)
    assert (view["update"], view["window"]) == (1, [1, 2])
    assert neuron_view(result, 2, 0, update=3)["window"] == [2, 4]


def test_neuron_from_a_request_equals_the_view_of_its_trace():
    request = small_request("lstm", schedule="k1_lt_k2")
    assert neuron(request, 3, 1, update=1) == neuron_view(run_trace(request), 3, 1, update=1)


def test_neuron_view_reads_the_recorded_trace_without_running_any_cell(monkeypatch):
    results = {cell: run_trace(small_request(cell)) for cell in CELL_NAMES}

    def refuse(*args, **kwargs):
        raise AssertionError("the neuron view ran a cell step")

    for module in (rnn, lstm, gru):
        for name in ("step_forward", "step_backward", "forward_steps", "backward_steps",
                     "backward_factors", "input_projection"):
            monkeypatch.setattr(module, name, refuse)
    for result in results.values():
        for t in range(1, 6):
            neuron_view(result, t, 0)
