"""Stacks of layers (num_layers, as PyTorch's): names, shapes, exact gradients and the error's
flow through depth and time. The golden files deep_* hold the numbers to PyTorch autograd
(nn.RNN / nn.LSTM themselves for one-sequence full BPTT, tools/make_golden.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bptt_studio.engine import CELLS, RequestError, gradcheck, neuron, plan, run_trace, torch_script
from bptt_studio.engine.planning.cost import estimate
from bptt_studio.engine.tasks.initial import initial_params
from bptt_studio.engine.tasks.train import train

CELL_NAMES = sorted(CELLS)
SMALL = {"hidden_size": 3, "data": {"text": "machine"}}


def stack(cell: str, layers: int, **more: Any) -> dict[str, Any]:
    return {**SMALL, "cell": cell, "num_layers": layers, **more}


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_one_layer_asked_for_is_todays_network_to_the_bit(cell):
    plain = run_trace({**SMALL, "cell": cell})
    asked = run_trace(stack(cell, 1))
    assert plain["loss"] == asked["loss"]
    assert plain["sizes"] == asked["sizes"] and "layers" not in asked["sizes"]
    for a, b in zip(plain["updates"][0]["grads"].values(), asked["updates"][0]["grads"].values(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert "error_flow_layers" not in asked["diagnostics"]
    assert all("layer" not in event for event in asked["events"])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_layer_j_names_its_parameters_l_j_and_reads_h_of_the_layer_below(cell):
    params = initial_params(stack(cell, 3))["params"]
    one = initial_params({**SMALL, "cell": cell})["params"]
    for name, spec in CELLS[cell].PARAMS.items():
        assert params[name].shape == one[name].shape  # layer 1 keeps today's names
        for layer in (2, 3):  # where layer 1 reads x(t) (D), layer j reads h of j-1 (H)
            assert params[f"{name}_l{layer}"].shape == spec.size(3, 3, 7)
    assert list(params)[-2:] == ["V", "b_y"]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_every_layers_gradient_agrees_with_finite_differences_under_truncation(cell):
    result = gradcheck(stack(cell, 3, truncation={"k1": 2, "k2": 3}))
    assert result["ok"], result["max_rel_error"]
    assert {"W_l3", "U_l2"} <= set(result["max_rel_error"]) or cell != "rnn"


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_stacked_mini_batch_agrees_with_finite_differences(cell):
    batch = {"batch": [{"text": "abcab"}, {"text": "bcaba"}]}
    assert gradcheck({**stack(cell, 2), "data": batch, "reduction": "mean"})["ok"]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_each_layers_error_flow_is_the_norm_of_what_reaches_its_h(cell):
    result = run_trace(stack(cell, 3, loss_at="last"))
    flows, T = result["diagnostics"]["error_flow_layers"], result["sizes"]["T"]
    assert len(flows) == 3 and flows[-1] == result["diagnostics"]["error_flow"]
    seen = 0
    for event in result["events"]:
        if event["kind"] == "backward":  # one loss, L(T): dh of layer j at k is dL(T)/dh_j(k)
            got = flows[event["layer"] - 1][T - 1][event["t"] - 1]
            assert got == pytest.approx(float(np.linalg.norm(event["dh"])), rel=1e-12)
            seen += 1
    assert seen == 3 * T


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_lower_layers_error_comes_from_the_layer_above_and_the_tops_from_its_output(cell):
    result = run_trace(stack(cell, 2))
    for event in (e for e in result["events"] if e["kind"] == "backward"):
        if event["layer"] == 2:
            assert not np.any(event["dh_above"])
        else:
            assert not np.any(event["dh_out"])
            np.testing.assert_allclose(event["dh"], event["dh_above"] + event["dh_next"],
                                       atol=1e-15)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_step_norms_count_every_layers_contributions(cell):
    result = run_trace(stack(cell, 3))
    T = result["sizes"]["T"]
    squares = np.zeros(T)
    for event in (e for e in result["events"] if e["kind"] == "backward"):
        squares[event["t"] - 1] += sum(float(np.sum(np.square(v)))
                                       for v in event["contrib"].values())
    np.testing.assert_allclose(result["diagnostics"]["step_grad_norms"], np.sqrt(squares),
                               rtol=1e-12)


def test_a_stacks_initial_state_is_a_row_a_layer():
    with pytest.raises(RequestError) as refused:
        run_trace(stack("rnn", 2, h0=[0.1, 0.2, 0.3]))
    assert refused.value.loc == ("h0",) and "num_layers" in refused.value.msg
    h0 = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]
    assert initial_params(stack("lstm", 2, h0=h0))["h0"].tolist() == h0


def test_the_bug_hunt_refuses_a_stack_naming_num_layers():
    with pytest.raises(RequestError) as refused:
        run_trace(stack("rnn", 2, bug="dh_next_dropped"))
    assert refused.value.loc == ("num_layers",)


def sums_hold(node: dict) -> None:
    """Every sum and dot product of a neuron view adds up to its value."""
    parts = node.get("terms") or []
    if node["op"] == "dot":
        parts = [{"value": p} for p in node["products"]]
    if parts:
        assert sum(p["value"] for p in parts) == pytest.approx(node["value"], rel=1e-12,
                                                               abs=1e-15)
    for term in node.get("terms") or []:
        sums_hold(term)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_lower_units_error_is_what_the_layer_above_sends_down_plus_its_next_step(cell):
    request = stack(cell, 3)
    events = run_trace(request)["events"]
    for layer in (1, 2, 3):
        view = neuron(request, t=3, unit=1, layer=layer)
        assert view["layer"] == layer
        recorded = next(e for e in events if e["kind"] == "backward"
                        and e["layer"] == layer and e["t"] == 3)
        assert view["dh"]["value"] == recorded["dh"][1]
        first = "dh_out" if layer == 3 else "dh_above"
        assert [term["name"] for term in view["dh"]["terms"]] == [first, "dh_next"]
        assert view["dh"]["terms"][0]["value"] == pytest.approx(recorded[first][1], abs=1e-15)
        sums_hold(view["dh"])


def test_the_neuron_views_layer_is_checked():
    with pytest.raises(RequestError) as refused:
        neuron(stack("lstm", 2), t=2, unit=1, layer=3)
    assert refused.value.loc == ("layer",) and "1..2" in refused.value.msg
    with pytest.raises(RequestError) as refused:
        neuron(stack("lstm", 1), t=2, unit=1, layer=1)
    assert refused.value.loc == ("layer",)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_pytorch_script_of_a_stack_steps_every_layer(cell):
    text = torch_script(stack(cell, 3))
    assert "LAYERS = 3" in text and "def stack(p, x, states):" in text
    assert "3 layers stacked" in text


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_trained_stack_continues_its_text(cell):
    result = train({**stack(cell, 2), "optimizer": {"name": "adam", "lr": 0.05}}, iterations=3)
    assert len(result["continuation"]) > 0 and len(result["losses"]) == 3


def test_the_work_of_a_stack_is_counted_once_a_layer():
    def work_cost(layers: int) -> tuple[float, float]:  # every phase but the fixed base
        phases = estimate(plan(stack("lstm", layers, hidden_size=32)).work).phases
        return (sum(cpu for name, cpu, _ in phases if name != "base"),
                sum(memory for name, _, memory in phases if name != "base"))
    one, four = work_cost(1), work_cost(4)
    assert four[0] >= 4 * one[0] and four[1] >= 4 * one[1]


# ---- bidirectional: a reverse network per layer, the layer above and the output reading both


def both_ways(cell: str, layers: int = 1, **more: Any) -> dict[str, Any]:
    return stack(cell, layers, bidirectional=True, **more)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_bidirectional_layer_has_a_rev_network_and_the_output_reads_2h(cell):
    params = initial_params(both_ways(cell, 2))["params"]
    for name, spec in CELLS[cell].PARAMS.items():
        assert params[f"{name}_rev"].shape == params[name].shape
        assert params[f"{name}_l2_rev"].shape == spec.size(3, 6, 7)  # layer 2 reads [h; h_rev]
    assert params["V"].shape == (7, 6)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
def test_a_bidirectional_networks_gradient_agrees_with_finite_differences(cell, layers):
    result = gradcheck(both_ways(cell, layers))
    assert result["ok"], result["max_rel_error"]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_reverse_network_runs_from_t_back_to_1_and_its_error_flows_forward_in_time(cell):
    result = run_trace(both_ways(cell, loss_at="last"))
    T = result["sizes"]["T"]
    reverse = [e for e in result["events"] if e.get("direction") == "reverse"]
    assert [e["t"] for e in reverse if e["kind"] == "forward"] == list(range(T, 0, -1))
    assert [e["t"] for e in reverse if e["kind"] == "backward"] == list(range(1, T + 1))
    flow = result["diagnostics"]["error_flow_reverse"]
    # one loss, L(T): the reverse network's h(k) feeds o(T) only through h_rev(T) onwards,
    # which is k = T alone; every cell below the diagonal is null
    assert all(flow[t][k] is None for t in range(T) for k in range(t))
    for event in (e for e in reverse if e["kind"] == "backward"):
        if event["t"] < T:  # before T the reverse network has not yet read step T
            assert not np.any(event["dh"])
        else:
            assert flow[T - 1][T - 1] == pytest.approx(float(np.linalg.norm(event["dh"])),
                                                       rel=1e-12)


@pytest.mark.parametrize("field", ["truncation", "bug"])
def test_a_bidirectional_network_refuses_what_needs_one_direction_naming_why(field):
    value = {"k1": 2} if field == "truncation" else "dh_next_dropped"
    with pytest.raises(RequestError) as refused:
        run_trace(both_ways("rnn", **{field: value}))
    assert refused.value.loc == (field,) and "bidirectional" in refused.value.msg


def recorded_backward(events: list[dict], layer: int, direction: str, t: int) -> dict:
    return next(e for e in events if e["kind"] == "backward" and e.get("layer", 1) == layer
                and e["direction"] == direction and e["t"] == t)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("convention", ["gradient", "haykin"])
def test_a_bidirectional_units_error_adds_up_to_the_recorded_one_term_by_term(
        cell, layers, direction, convention):
    request = both_ways(cell, layers)
    events = run_trace(request)["events"]
    sign = -1.0 if convention == "haykin" else 1.0
    for layer in range(1, layers + 1):
        for t in (1, 3, 6):  # either end of the sequence (nothing from the next step) and between
            view = neuron(request, t=t, unit=1, layer=layer if layers > 1 else None,
                          direction=direction, convention=convention)
            assert view["direction"] == direction and view.get("layer") == (
                layer if layers > 1 else None)
            recorded = recorded_backward(events, layer, direction, t)
            first = "dh_out" if layer == layers else "dh_above"
            assert [term["name"] for term in view["dh"]["terms"]] == [first, "dh_next"]
            for term in view["dh"]["terms"]:  # each as the engine recorded it
                assert term["value"] == pytest.approx(sign * recorded[term["name"]][1],
                                                      abs=1e-15)
            assert view["dh"]["value"] == sign * recorded["dh"][1]
            sums_hold(view["dh"])
            for name in ("delta", "dc"):
                if name in view:
                    sums_hold(view[name])
            for node in (view.get("deltas") or {}).values():
                sums_hold(node)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_reverse_units_error_comes_from_step_t_minus_1_and_vs_reverse_half(cell):
    request = both_ways(cell, 2)
    view = neuron(request, t=3, unit=1, layer=2, direction="reverse")
    assert view["next"]["t"] == 2  # its next step in its own time
    dh_out, dh_next = view["dh"]["terms"]
    assert dh_out["weight"] == {"name": "V", "version": 0, "column": 3 + 1}  # H + j
    assert all(node["signal"]["t"] == 2 for node in dh_next.get("terms", [dh_next])
               if node["op"] == "dot")
    assert neuron(request, t=1, unit=1, layer=2, direction="reverse")["next"] is None


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_a_lower_bidirectional_units_error_comes_from_both_networks_above(cell, direction):
    view = neuron(both_ways(cell, 2), t=3, unit=1, layer=1, direction=direction)
    above = view["dh"]["terms"][0]
    assert [term["name"] for term in above["terms"]] == ["dh_above.forward",
                                                          "dh_above.reverse"]
    column = 1 + (3 if direction == "reverse" else 0)  # its place in [h(t); h_rev(t)]
    dots = [node for term in above["terms"] for node in ([term] if term["op"] == "dot"
                                                          else term["terms"])]
    assert {node["weight"]["column"] for node in dots} == {column}
    assert {node["weight"]["name"].endswith("_l2_rev") for node in dots} == {False, True}
    assert all(node["signal"]["t"] == 3 for node in dots)


def test_a_bidirectional_mini_batchs_unit_reads_its_example():
    request = {**both_ways("lstm"), "reduction": "mean",
               "data": {"batch": [{"text": "abcab"}, {"text": "bcaba"}]}}
    events = [e for e in run_trace(request)["events"] if e.get("example") == 1]
    view = neuron(request, t=2, unit=0, example=1, direction="reverse")
    assert view["example"] == 1
    assert view["dh"]["value"] == recorded_backward(events, 1, "reverse", 2)["dh"][0]
    sums_hold(view["dh"])


def test_the_neuron_views_direction_is_checked():
    with pytest.raises(RequestError) as refused:
        neuron(stack("gru", 1), t=2, unit=1, direction="reverse")
    assert refused.value.loc == ("direction",) and "bidirectional" in refused.value.msg
    with pytest.raises(RequestError) as refused:
        neuron(both_ways("gru"), t=2, unit=1, direction="backward")
    assert refused.value.loc == ("direction",) and "forward, reverse" in refused.value.msg


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_pytorch_script_of_a_bidirectional_network_runs_the_whole_sequence(cell):
    text = torch_script(both_ways(cell, 2))
    assert "def network(p, xs, initial):" in text and "bidirectional" in text
    assert "UNITS = [(1, False, ''), (1, True, '_rev'), (2, False, '_l2'), " \
           "(2, True, '_l2_rev')]" in text


def test_a_trained_bidirectional_network_predicts_but_writes_no_continuation():
    result = train(both_ways("lstm"), iterations=2)
    assert len(result["predictions"]) == 6 and result["continuation"] is None


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_windows_backward_events_come_top_layer_first_as_they_are_computed(bidirectional):
    result = run_trace(stack("lstm", 3, bidirectional=bidirectional,
                             **({} if bidirectional else {"truncation": {"k1": 2, "k2": 3}})))
    for update in range(len(result["updates"])):
        layers = [e["layer"] for e in result["events"]
                  if e["kind"] == "backward" and e["update"] == update]
        assert layers == sorted(layers, reverse=True) and layers[0] == 3


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_stacked_units_view_names_its_weights_as_the_trace_does(cell):
    """Every weight a view's dot products read is named as the trace's parameters are (W_f_l2,
    W_f_rev), and holds that parameter's column at the version it names."""
    request = stack(cell, 2, bidirectional=True)
    result = run_trace(request)

    def weights(node):
        if isinstance(node, dict):
            if node.get("op") == "dot":
                yield node
            for value in node.values():
                yield from weights(value)
        elif isinstance(node, list):
            for item in node:
                yield from weights(item)

    for layer, direction in ((1, "reverse"), (2, "forward"), (1, "forward")):
        view = neuron(request, t=3, unit=1, layer=layer, direction=direction)
        for dot in weights(view):
            ref = dot["weight"]
            assert ref["name"] in result["params"], ref
            matrix = result["updates"][ref["version"]]["params_before"][ref["name"]]
            np.testing.assert_array_equal(matrix[:, ref["column"]], dot["weights"])
