"""Diagnostics against finite differences and against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from bptt_studio.engine import CELLS, RequestError, plan, problem_of, run_trace
from bptt_studio.engine.bptt import losses
from bptt_studio.engine.bptt.schedule import run_schedule
from tests.engine_helpers import CELL_NAMES, central_difference, small_request


def _replay(problem, run, k, t, h_k):
    """h(t) and L(t) when h(k) is replaced (the cell state c(k) kept as recorded)."""
    cell = CELLS[problem.cell]
    fwd = run.forward
    state = (h_k, fwd.caches[k]["c"]) if problem.cell == "lstm" else (h_k,)
    for s in range(k + 1, t + 1):
        packed = fwd.packs[fwd.version_of[s]]
        ux = cell.input_projection(packed, problem.inputs[s - 1:s])[0]
        state = cell.state_of(cell.step_forward(packed, ux, state))
    params = run.updates[fwd.version_of[t]]["params_before"]
    o = losses.outputs(params["V"], params["b_y"], state[0][None])
    return state[0], float(losses.evaluate(problem.loss, o, problem.targets[t - 1:t])[1][0])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_error_flow_is_the_norm_of_dLt_dhk_by_finite_differences(cell):
    request = small_request(cell)
    result = run_trace(request)
    problem = problem_of(plan(request))
    run = run_schedule(problem)
    flow = result["diagnostics"]["error_flow"]
    for t in range(1, problem.T + 1):
        for k in range(1, t + 1):
            h_k = run.forward.caches[k]["h"]
            numeric = central_difference(
                lambda h, k=k, t=t: _replay(problem, run, k, t, h)[1], h_k.copy())
            assert flow[t - 1][k - 1] == pytest.approx(np.linalg.norm(numeric), rel=1e-6,
                                                       abs=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_jacobian_norms_are_norms_of_dht_dhk_by_finite_differences(cell):
    request = small_request(cell, jacobian_norms=True)
    result = run_trace(request)
    problem = problem_of(plan(request))
    run = run_schedule(problem)
    jac = result["diagnostics"]["jacobian_norms"]
    H = problem.H
    for t in range(1, problem.T + 1):
        for k in range(1, t):
            h_k = run.forward.caches[k]["h"]
            columns = [central_difference(
                lambda h, k=k, t=t, i=i: _replay(problem, run, k, t, h)[0][i], h_k.copy())
                for i in range(H)]
            assert jac[t - 1][k - 1] == pytest.approx(np.linalg.norm(np.array(columns)),
                                                      rel=1e-6)
        assert jac[t - 1][t - 1] == pytest.approx(np.sqrt(H))
        assert all(v is None for v in jac[t - 1][t:])


def test_lstm_jacobian_norms_hold_the_cell_state_fixed_at_every_step():
    request = small_request("lstm", jacobian_norms=True)
    result = run_trace(request)
    problem = problem_of(plan(request))
    run = run_schedule(problem)
    fwd = run.forward
    cell = CELLS["lstm"]

    def one_step(s, h_prev):  # h(s) from h(s-1) with c(s-1) as recorded
        packed = fwd.packs[fwd.version_of[s]]
        ux = cell.input_projection(packed, problem.inputs[s - 1:s])[0]
        return cell.step_forward(packed, ux, (h_prev, fwd.caches[s]["c_prev"]))["h"]

    steps = {s: np.array([central_difference(lambda h, s=s, i=i: one_step(s, h)[i],
                                             fwd.caches[s]["h_prev"].copy())
                          for i in range(problem.H)]) for s in range(2, problem.T + 1)}
    product = steps[problem.T] @ steps[problem.T - 1] @ steps[problem.T - 2]
    expected = np.linalg.norm(product)  # dh(T)/dh(T-3) along h only
    got = result["diagnostics"]["jacobian_norms"][problem.T - 1][problem.T - 4]
    assert got == pytest.approx(expected, rel=1e-6)


def test_jacobian_norms_are_computed_only_when_asked_for():
    # O(T^2 H^3): off by default; the other diagnostics stay on
    diagnostics = run_trace(small_request("gru"))["diagnostics"]
    assert diagnostics["jacobian_norms"] is None
    assert diagnostics["error_flow"] is not None and diagnostics["weight_flow"] is not None
    assert len(diagnostics["step_grad_norms"]) == 5


def test_jacobian_norms_when_asked_for_leave_every_other_number_unchanged():
    without = run_trace(small_request("lstm", schedule="k1_lt_k2"))
    with_jacobian = run_trace(small_request("lstm", schedule="k1_lt_k2", jacobian_norms=True))
    assert len(with_jacobian["diagnostics"]["jacobian_norms"]) == 5
    for key in ("error_flow", "weight_flow", "step_grad_norms", "full_vs_truncated"):
        assert with_jacobian["diagnostics"][key] == without["diagnostics"][key]
    assert with_jacobian["loss"] == without["loss"]


def test_jacobian_norms_without_diagnostics_are_refused_naming_the_field():
    with pytest.raises(RequestError) as error:
        run_trace(small_request("rnn", diagnostics=False, jacobian_norms=True))
    assert error.value.loc == ("jacobian_norms",)
    assert "diagnostics" in error.value.msg


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_step_grad_norms_are_the_norms_of_each_steps_contributions_in_full_bptt(cell):
    result = run_trace(small_request(cell))
    backward = {e["t"]: e for e in result["events"] if e["kind"] == "backward"}
    for t, norm in enumerate(result["diagnostics"]["step_grad_norms"], start=1):
        expected = np.sqrt(sum(np.sum(c ** 2) for c in backward[t]["contrib"].values()))
        assert norm == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_weight_flow_of_the_only_loss_is_each_steps_contribution(cell):
    # with the loss at the last step only, step k's contribution is L(T)'s alone; at k = T it
    # counts the output layer (V, b_y) too
    result = run_trace(small_request(cell, loss_at="last"))
    flow = result["diagnostics"]["weight_flow"]
    T = len(flow)
    backward = {e["t"]: e for e in result["events"] if e["kind"] == "backward"}
    for k in range(1, T + 1):
        expected = np.sqrt(sum(np.sum(c ** 2) for c in backward[k]["contrib"].values()))
        assert flow[T - 1][k - 1] == pytest.approx(expected, rel=1e-10)


def test_full_vs_truncated_is_absent_without_truncation_and_exact_when_nothing_is_cut():
    assert run_trace(small_request("rnn"))["diagnostics"]["full_vs_truncated"] is None
    same = run_trace({**small_request("rnn"), "truncation": {"k1": 5, "k2": 5}})
    # truncation asked for, though k1 = k2 = T cuts nothing: the comparison says so
    assert same["diagnostics"]["full_vs_truncated"]["cosine"] == pytest.approx(1.0)
    assert same["diagnostics"]["full_vs_truncated"]["relative_error"] == pytest.approx(0.0)
    cut = run_trace({**small_request("gru"), "truncation": {"k1": 1, "k2": 1}})
    comparison = cut["diagnostics"]["full_vs_truncated"]
    assert comparison["relative_error"] > 0 and comparison["cosine"] < 1


def test_full_vs_truncated_compares_with_the_same_losses_flowing_back_to_the_start():
    request = {**small_request("rnn", schedule="chunked"), "optimizer": {"name": "sgd",
                                                                         "lr": 1e-12}}
    truncated = run_trace(request)
    # With a negligible step every window sees the initial parameters, so the "full" side
    # must be the full-BPTT gradient of the same total loss.
    full = run_trace({**request, "truncation": None})
    a = np.concatenate([sum(u["grads"][n] for u in truncated["updates"]).ravel()
                        for n in full["params"]])
    b = np.concatenate([full["updates"][0]["grads"][n].ravel() for n in full["params"]])
    expected_rel = np.linalg.norm(a - b) / np.linalg.norm(b)
    got = truncated["diagnostics"]["full_vs_truncated"]
    assert got["relative_error"] == pytest.approx(expected_rel, rel=1e-6)
    assert got["cosine"] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b),
                                          rel=1e-9)
