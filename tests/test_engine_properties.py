"""Properties of the trace that hold for any request (Hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt_studio.engine import run_trace
from tests.engine_helpers import CELL_NAMES

FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def requests(draw):
    T = draw(st.integers(2, 7))
    D = draw(st.integers(1, 3))
    K = draw(st.integers(2, 3))
    cell = draw(st.sampled_from(CELL_NAMES))
    loss = draw(st.sampled_from(["cross_entropy", "mse"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(T, D)).tolist()
    targets = (rng.integers(0, K, size=T).tolist() if loss == "cross_entropy"
               else rng.normal(size=(T, K)).tolist())
    truncation = None
    if draw(st.booleans()):
        k1 = draw(st.integers(1, T))
        truncation = {"k1": k1, "k2": draw(st.integers(k1, T + 2))}
    return {
        "cell": cell, "hidden_size": draw(st.integers(1, 4)),
        "activation": draw(st.sampled_from(["tanh", "relu", "sigmoid"])), "loss": loss,
        "loss_at": draw(st.sampled_from(["every", "last"])),
        "reduction": draw(st.sampled_from(["sum", "mean"])),
        "data": {"inputs": inputs, "targets": targets}, "output_size": K,
        "truncation": truncation, "seed": seed,
        "optimizer": {"name": draw(st.sampled_from(["sgd", "momentum", "adagrad", "adam"])),
                      "lr": draw(st.floats(0.01, 1.0))},
    }


def _backward(result, index):
    return [e for e in result["events"] if e["kind"] == "backward" and e["update"] == index]


@FAST
@given(requests())
def test_contributions_of_a_window_sum_to_its_gradient(request):
    result = run_trace(request)
    for index, update in enumerate(result["updates"]):
        events = _backward(result, index)
        for name, grad in update["grads"].items():
            total = sum(event["contrib"][name] for event in events)
            np.testing.assert_allclose(total, grad, rtol=1e-12, atol=1e-14)


@FAST
@given(requests())
def test_running_sum_at_the_window_start_is_the_window_gradient(request):
    result = run_trace(request)
    for index, update in enumerate(result["updates"]):
        last_event = _backward(result, index)[-1]  # the backward pass ends at the first step
        for name, grad in update["grads"].items():
            np.testing.assert_allclose(last_event["accum"][name], grad, rtol=1e-12, atol=1e-14)


@FAST
@given(requests())
def test_running_sums_grow_by_each_step_contribution(request):
    result = run_trace(request)
    for index, _ in enumerate(result["updates"]):
        events = _backward(result, index)
        for before, after in zip(events, events[1:], strict=False):
            for name in after["accum"]:
                np.testing.assert_allclose(after["accum"][name],
                                           before["accum"][name] + after["contrib"][name],
                                           rtol=1e-12, atol=1e-14)


@FAST
@given(requests())
def test_k1_equal_to_T_with_k2_at_least_T_is_full_bptt(request):
    T = len(request["data"]["inputs"])
    full = run_trace({**request, "truncation": None, "diagnostics": False})
    for k2 in (T, T + 3):
        truncated = run_trace({**request, "truncation": {"k1": T, "k2": k2},
                               "diagnostics": False})
        assert len(truncated["updates"]) == 1
        for name, grad in full["updates"][0]["grads"].items():
            np.testing.assert_array_equal(truncated["updates"][0]["grads"][name], grad)


@FAST
@given(requests())
def test_same_request_gives_the_same_numbers(request):
    first, second = run_trace(request), run_trace(request)
    assert first["loss"] == second["loss"]
    for a, b in zip(first["updates"], second["updates"], strict=True):
        for name in a["params_after"]:
            np.testing.assert_array_equal(a["params_after"][name], b["params_after"][name])
    assert first["diagnostics"] == second["diagnostics"]


@FAST
@given(requests())
def test_error_sent_back_by_a_step_is_what_the_earlier_step_receives(request):
    result = run_trace(request)
    for index, _ in enumerate(result["updates"]):
        events = _backward(result, index)  # t = last .. first
        assert np.all(events[0]["dh_next"] == 0)  # nothing beyond the window's last step
        for later, earlier in zip(events, events[1:], strict=False):
            np.testing.assert_array_equal(earlier["dh_next"], later["dh_prev"])
            np.testing.assert_allclose(earlier["dh"], earlier["dh_out"] + earlier["dh_next"],
                                       rtol=1e-15, atol=0)


@FAST
@given(requests())
def test_each_update_applies_to_the_next_forward_steps(request):
    result = run_trace(request)
    forward = [e for e in result["events"] if e["kind"] == "forward"]
    for index, update in enumerate(result["updates"][:-1]):
        nxt = [e for e in forward if e["t"] == update["t"] + 1]
        assert nxt and nxt[0]["version"] == index + 1
        np.testing.assert_array_equal(result["updates"][index + 1]["params_before"]["V"],
                                      update["params_after"]["V"])


@FAST
@given(requests())
def test_output_error_is_zero_where_no_loss_is_injected(request):
    result = run_trace(request)
    injected = set(result["loss_steps"])
    for event in result["events"]:
        if event["kind"] == "backward":
            own_window_new = event["t"] in injected and event["t"] > (
                result["updates"][event["update"] - 1]["t"] if event["update"] else 0)
            if not own_window_new:
                assert np.all(event["g_o"] == 0)


@FAST
@given(requests())
def test_error_flow_stays_inside_the_truncation_band(request):
    result = run_trace(request)
    flow = result["diagnostics"]["error_flow"]
    for update in result["updates"]:
        first, last = update["window"]
        previous = [u["t"] for u in result["updates"] if u["t"] < update["t"]]
        start = previous[-1] + 1 if previous else 1
        for t in range(start, last + 1):
            for k in range(1, t + 1):
                if k < first:
                    assert flow[t - 1][k - 1] == 0.0
            assert all(v is None for v in flow[t - 1][t:])


@st.composite
def batch_requests(draw):
    """A mini-batch of 1 to 4 sequences of the same random request's sizes."""
    single = draw(requests())
    n = draw(st.integers(1, 4))
    rng = np.random.default_rng(single["seed"] + 1)
    T, D = len(single["data"]["inputs"]), len(single["data"]["inputs"][0])
    K, mse = single["output_size"], single["loss"] == "mse"
    batch = [{"inputs": rng.normal(size=(T, D)).tolist(),
              "targets": (rng.normal(size=(T, K)).tolist() if mse
                          else rng.integers(0, K, size=T).tolist())} for _ in range(n)]
    return {**single, "data": {"batch": batch}}


@FAST
@given(batch_requests())
def test_every_examples_contributions_sum_to_its_share_and_the_shares_to_the_gradient(request):
    result = run_trace(request)
    n = len(request["data"]["batch"])
    for index, update in enumerate(result["updates"]):
        shares = update["shares"]
        assert len(shares) == n
        for name, grad in update["grads"].items():
            np.testing.assert_allclose(sum(share["grads"][name] for share in shares), grad,
                                       rtol=1e-12, atol=1e-14)
            for share in shares:
                events = [e for e in _backward(result, index) if e["example"] == share["example"]]
                np.testing.assert_allclose(sum(e["contrib"][name] for e in events),
                                           share["grads"][name], rtol=1e-12, atol=1e-14)
