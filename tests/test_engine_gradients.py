"""Every analytic gradient against central finite differences: parameters, inputs and the
initial state, for every cell x activation x loss x loss placement x schedule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bptt_studio.engine import plan, problem_of
from bptt_studio.engine.bptt.schedule import run_schedule
from bptt_studio.engine.tasks.gradcheck import window_loss, window_versions
from tests.engine_helpers import (
    CELL_VARIANTS,
    SCHEDULES,
    assert_gradients_close,
    central_difference,
    small_request,
)

COMBINATIONS = [(cell, act, loss, at, sched) for (cell, act), loss, at, sched in itertools.product(
    CELL_VARIANTS, ["cross_entropy", "mse"], ["every", "last"], SCHEDULES)]
IDS = ["-".join(combo) for combo in COMBINATIONS]


def _run(combo):
    cell, activation, loss, loss_at, schedule = combo
    problem = problem_of(plan(small_request(cell, activation, loss, loss_at, schedule)))
    return problem, run_schedule(problem)


@pytest.mark.parametrize("combo", COMBINATIONS, ids=IDS)
def test_parameter_gradients_match_finite_differences_in_every_window(combo):
    problem, run = _run(combo)
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


@pytest.mark.parametrize("combo", COMBINATIONS, ids=IDS)
def test_input_gradients_match_finite_differences(combo):
    problem, run = _run(combo)
    backward = [e for e in _events(problem, run) if e["kind"] == "backward"]
    for index, update in enumerate(run.updates):
        versions = window_versions(run, index)
        first, last = update["window"]
        for t in range(first, last + 1):
            def loss_of(x_t, t=t, index=index, versions=versions):
                inputs = problem.inputs.copy()
                inputs[t - 1] = x_t
                return window_loss(problem, run, index, versions, inputs=inputs)

            numeric = central_difference(loss_of, problem.inputs[t - 1].copy())
            (event,) = [e for e in backward if e["update"] == index and e["t"] == t]
            assert_gradients_close(event["dx"], numeric, f"dx({t}) in window {first}..{last}")


@pytest.mark.parametrize("combo", COMBINATIONS, ids=IDS)
def test_initial_state_gradients_match_finite_differences(combo):
    problem, run = _run(combo)
    fwd = run.forward
    for index, update in enumerate(run.updates):
        versions = window_versions(run, index)
        first = update["window"][0]
        cache = fwd.caches[first]
        start = [cache["h_prev"]] + ([cache["c_prev"]] if problem.cell == "lstm" else [])

        def loss_of_h(h, start=start, index=index, versions=versions):
            return window_loss(problem, run, index, versions, start=(h, *start[1:]))

        numeric = central_difference(loss_of_h, start[0].copy())
        assert_gradients_close(update["dh_start"], numeric, f"dh({first - 1})")
        if problem.cell == "lstm":
            def loss_of_c(c, start=start, index=index, versions=versions):
                return window_loss(problem, run, index, versions, start=(start[0], c))

            numeric_c = central_difference(loss_of_c, start[1].copy())
            assert_gradients_close(update["dc_start"], numeric_c, f"dc({first - 1})")


def _events(problem, run):
    return run.events


def test_full_bptt_gradient_of_h0_matches_finite_differences_through_the_public_entry():
    from bptt_studio.engine import run_trace

    request = small_request("gru", schedule="full")
    result = run_trace(request)

    def loss_of(h0):
        return run_trace({**request, "h0": h0.tolist(), "diagnostics": False})["loss"]

    numeric = central_difference(loss_of, np.array(request["h0"]))
    assert_gradients_close(result["updates"][0]["dh_start"], numeric, "dL/dh(0)")
