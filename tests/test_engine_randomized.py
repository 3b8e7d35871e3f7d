"""Randomized truncation (DESIGN.md; d2l 9.7): full BPTT whose error from step t back to step
t-1 is weighted by xi_t, 0 with probability 1 - p and 1/p with probability p.

The numbers against PyTorch autograd are tests/golden/randomized_*.json; here: its expectation
is the full gradient exactly (every pattern of xi enumerated with its probability), p = 1 is
full BPTT, the draws, a zero cuts, the mean over seeds, and the refusals. Over every cell.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from bptt_studio.engine import RequestError, gradcheck, neuron, plan, problem_of, run_trace
from bptt_studio.engine.bptt.schedule import run_schedule
from bptt_studio.engine.cells.registry import CELLS

ALL_CELLS = list(CELLS)


def request(cell: str, p: float | None = 0.5, **extra: Any) -> dict[str, Any]:
    truncation = None if p is None else {"mode": "randomized", "p": p}
    return {"cell": cell, "hidden_size": 3, "seed": 2, "data": {"text": "machine"},
            "truncation": truncation, "diagnostics": False, **extra}


def flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(value) for value in grads.values()])


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_its_expectation_is_the_full_gradient_exactly(cell):
    """Every pattern of xi_2..xi_T, each with its probability: the weighted sum of the
    gradients is the full BPTT gradient, to rounding (T = 6: 32 patterns)."""
    p = 0.4
    problem = problem_of(plan(request(cell, p)))
    full = flat(run_schedule(replace(problem, carry=None)).updates[0]["grads"])
    expected = np.zeros_like(full)
    for kept in itertools.product((False, True), repeat=problem.T - 1):
        xi = np.array([1.0] + [1.0 / p if k else 0.0 for k in kept])
        chance = np.prod([p if k else 1.0 - p for k in kept])
        expected += chance * flat(run_schedule(replace(problem, carry=xi)).updates[0]["grads"])
    np.testing.assert_allclose(expected, full, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_keeping_every_step_is_full_bptt(cell):
    kept = run_trace(request(cell, p=1.0))
    full = run_trace(request(cell, p=None))
    assert list(kept["xi"]) == [1.0] * 6
    for name, grad in full["updates"][0]["grads"].items():
        np.testing.assert_array_equal(kept["updates"][0]["grads"][name], grad)


def test_the_weights_are_drawn_from_the_seed_zero_or_one_over_p():
    p = 0.25
    long = {"data": {"text": "abcdefghij" * 20}, "truncation": {"mode": "randomized", "p": p},
            "diagnostics": False}
    xi = np.asarray(run_trace({**long, "seed": 7})["xi"])
    assert xi[0] == 1.0 and set(xi[1:]) <= {0.0, 1.0 / p}
    assert np.array_equal(xi, run_trace({**long, "seed": 7})["xi"])  # the same request
    assert not np.array_equal(xi, run_trace({**long, "seed": 8})["xi"])
    assert abs(np.mean(xi[1:] > 0) - p) < 0.08  # 199 draws


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_a_zero_weight_cuts_the_error_into_the_step_before(cell):
    result = run_trace(request(cell, p=0.5, seed=3))
    xi = np.asarray(result["xi"])
    assert 0.0 in xi[1:]
    backward = {e["t"]: e for e in result["events"] if e["kind"] == "backward"}
    for t in range(2, 7):
        cut = xi[t - 1] == 0.0  # the error from step t into step t - 1
        assert (np.count_nonzero(backward[t - 1]["dh_next"]) == 0) == cut
        if "dc_next" in backward[t - 1]:
            assert (np.count_nonzero(backward[t - 1]["dc_next"]) == 0) == cut


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_the_mean_over_seeds_comes_near_the_full_gradient(cell):
    base = run_trace(request(cell, p=None))
    params = {name: value.tolist() for name, value in base["params"].items()}
    full = flat(base["updates"][0]["grads"])
    total = np.zeros_like(full)
    seeds = 400
    for seed in range(seeds):
        drawn = run_trace(request(cell, p=0.5, seed=seed, params=params))
        total += flat(drawn["updates"][0]["grads"])
    assert np.linalg.norm(total / seeds - full) < 0.1 * np.linalg.norm(full)


REFUSED = {
    "no p": ({"truncation": {"mode": "randomized"}}, ("truncation", "p")),
    "k1 with randomized": ({"truncation": {"mode": "randomized", "p": 0.5, "k1": 2}},
                           ("truncation", "k1")),
    "p with fixed": ({"truncation": {"k1": 2, "p": 0.5}}, ("truncation", "p")),
    "fixed without k1": ({"truncation": {}}, ("truncation", "k1")),
    "a bug": ({"truncation": {"mode": "randomized", "p": 0.5}, "bug": "dh_next_dropped"},
              ("bug",)),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_randomized_request_is_refused_naming_the_field(case):
    body, loc = REFUSED[case]
    with pytest.raises(RequestError) as refused:
        plan({"data": {"text": "machine"}, **body})
    assert refused.value.loc == loc


def test_finite_differences_and_the_neuron_view_say_why_they_do_not_apply():
    for call in (lambda: gradcheck(request("rnn")),
                 lambda: neuron(request("rnn"), t=2, unit=0)):
        with pytest.raises(RequestError) as refused:
            call()
        assert refused.value.loc == ("truncation", "mode")


def test_a_fixed_truncation_answers_as_before():
    config = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 2}})["config"]
    assert config["truncation"] == {"k1": 2, "k2": 2}
    assert "xi" not in run_trace({"data": {"text": "machine"}})
