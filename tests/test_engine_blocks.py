"""The block forms of each cell (forward_steps / backward_steps, which the schedule records a
pass with) give the very same bits as the step forms (step_forward / step_backward, the
equations as written), step by step, for every cell and activation."""

from __future__ import annotations

import pickle
from types import ModuleType

import numpy as np
import pytest

from bptt_studio.engine import run_trace
from bptt_studio.engine.cells.registry import gru, lstm, rnn

H, D, N = 5, 4, 7
CASES = [(rnn, "tanh"), (rnn, "relu"), (rnn, "sigmoid"), (lstm, "tanh"), (gru, "tanh")]
IDS = ["rnn-tanh", "rnn-relu", "rnn-sigmoid", "lstm", "gru"]


def random_params(cell: ModuleType, rng: np.random.Generator) -> dict[str, np.ndarray]:
    gates = {rnn: [""], lstm: ["_f", "_i", "_g", "_o"], gru: ["_z", "_r", "_h"]}[cell]
    params = {}
    for suffix in gates:
        params["W" + suffix] = rng.normal(scale=0.6, size=(H, H))
        params["U" + suffix] = rng.normal(scale=0.6, size=(H, D))
        params["b" + suffix] = rng.normal(scale=0.3, size=H)
    return params


def initial_state(cell: ModuleType, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    if cell is lstm:
        return rng.normal(size=H), rng.normal(size=H)
    return (rng.normal(size=H),)


def block_inputs(cell: ModuleType, activation: str, seed: int
                 ) -> tuple[dict, np.ndarray, tuple[np.ndarray, ...]]:
    """Packed random parameters, N random input rows and a random initial state."""
    rng = np.random.default_rng(seed)
    packed = cell.pack(random_params(cell, rng), activation)
    return packed, rng.normal(size=(N, D)), initial_state(cell, rng)


def step_by_step(cell: ModuleType, packed: dict, ux: np.ndarray,
                 state: tuple[np.ndarray, ...]) -> list[dict[str, np.ndarray]]:
    caches = []
    for row in ux:
        cache = cell.step_forward(packed, row, state)
        caches.append(cache)
        state = cell.state_of(cache)
    return caches


@pytest.mark.parametrize(("cell", "activation"), CASES, ids=IDS)
def test_forward_steps_records_the_same_bits_as_step_forward(cell, activation):
    packed, X, state = block_inputs(cell, activation, seed=0)
    stacks = cell.forward_steps(packed, X, state)
    caches = step_by_step(cell, packed, cell.input_projection(packed, X), state)
    for key in caches[0]:
        stacked = np.array([cache[key] for cache in caches])
        np.testing.assert_array_equal(stacks[key], stacked, err_msg=key)


@pytest.mark.parametrize(("cell", "activation"), CASES, ids=IDS)
def test_backward_steps_gives_the_same_bits_as_step_backward(cell, activation):
    rng = np.random.default_rng(1)
    packs = [cell.pack(random_params(cell, rng), activation) for _ in range(2)]
    stacks = cell.forward_steps(packs[0], rng.normal(size=(N, D)), initial_state(cell, rng))
    versions = [0, 0, 0, 1, 1, 1, 1]  # a window over two parameter versions (k1 < k2)
    dh_out = rng.normal(size=(N, H))
    out = cell.backward_steps([cell.recurrent(packs[v]) for v in versions], stacks, dh_out)
    dstate = (np.zeros(H), np.zeros(H)) if cell is lstm else (np.zeros(H),)
    for row in range(N - 1, -1, -1):
        record = {key: stack[row] for key, stack in stacks.items()}
        dh = dh_out[row] + dstate[0]
        np.testing.assert_array_equal(out["dh"][row], dh)
        step_state = (dh, dstate[1]) if cell is lstm else (dh,)
        dstate, delta, extra = cell.step_backward(packs[versions[row]], step_state, record)
        np.testing.assert_array_equal(out["delta"][row], delta)
        np.testing.assert_array_equal(out["dh_prev"][row], dstate[0])
        if cell is lstm:
            np.testing.assert_array_equal(out["dc"][row], extra["dc"])
            np.testing.assert_array_equal(out["dc_prev"][row], dstate[1])


@pytest.mark.parametrize(("cell", "activation"), CASES, ids=IDS)
def test_forward_steps_continues_from_the_state_it_is_given(cell, activation):
    packed, X, state = block_inputs(cell, activation, seed=2)
    whole = cell.forward_steps(packed, X, state)
    first = cell.forward_steps(packed, X[:3], state)
    rest = cell.forward_steps(packed, X[3:], cell.state_of({k: v[-1] for k, v in first.items()}))
    np.testing.assert_array_equal(whole["h"], np.concatenate([first["h"], rest["h"]]))


def test_a_recorded_pass_pickles_with_every_number():
    result = run_trace({"cell": "lstm", "hidden_size": 3, "truncation": {"k1": 2, "k2": 3}})
    copy = pickle.loads(pickle.dumps(result))
    assert len(copy["events"]) == len(result["events"])
    for mine, theirs in zip(result["events"], copy["events"], strict=True):
        assert list(mine) == list(theirs)
        if mine["kind"] == "backward":
            np.testing.assert_array_equal(theirs["dh"], mine["dh"])
            np.testing.assert_array_equal(theirs["contrib"]["W_f"], mine["contrib"]["W_f"])
            np.testing.assert_array_equal(theirs["accum"]["b_o"], mine["accum"]["b_o"])
        if mine["kind"] == "forward":
            np.testing.assert_array_equal(theirs["gates"]["f"], mine["gates"]["f"])
