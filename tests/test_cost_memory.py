"""What the engine no longer holds twice, held to the same bits as the forms it replaced.

- each parameter version and its cell's pack are one copy (engine.memory.packed_with_views);
- the diagnostics' full-vs-truncated sums add one window at a time (diagnostics.WindowSum),
  to the bits NumPy's sum of the stacked windows gives;
- a training pass keeps no record (run_schedule(record=False)), with the same numbers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bptt_studio.engine import CELLS, plan, problem_of
from bptt_studio.engine.bptt.diagnostics import WindowSum
from bptt_studio.engine.bptt.schedule import run_schedule
from bptt_studio.engine.cells.memory import pack_layout, packed_with_views
from bptt_studio.engine.request.params import init_params
from tests.engine_helpers import CELL_NAMES, small_request


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_parameters_become_views_of_their_pack_with_the_same_numbers(cell):
    module = CELLS[cell]
    params = init_params(cell, 5, 3, 4, seed=2)
    packed, views = packed_with_views(module, params, "tanh")
    fresh = module.pack(params, "tanh")
    assert list(views) == list(params)
    for name, value in views.items():
        assert value.tobytes() == params[name].tobytes() and value.shape == params[name].shape
    for key, value in fresh.items():  # the pack itself is the pack made the usual way
        assert (value == packed[key]) if isinstance(value, str) else (
            value.tobytes() == packed[key].tobytes())
    shared = {name for name, value in views.items() if any(
        isinstance(array, np.ndarray) and np.shares_memory(value, array)
        for array in packed.values())}
    layout = pack_layout(module.pack, tuple((n, v.shape) for n, v in params.items()))
    assert set(layout) <= shared
    if cell != "rnn":  # the gated cells stack their gates' input weights: views now
        assert {f"U_{k}" for k in ("f", "i", "g", "o", "z", "r", "h")} & set(layout)


def test_a_pack_entry_that_is_not_whole_parameters_is_never_a_view():
    def pack(params, activation="tanh"):  # a made-up cell: one scaled, one stacked entry
        return {"W": params["W"] * 0.5, "both": np.concatenate([params["a"], params["b"]]),
                "a": params["a"]}

    shapes = (("W", (2, 2)), ("a", (3,)), ("b", (2,)))
    assert pack_layout(pack, shapes) == {"a": ("both", 0, 3), "b": ("both", 3, 5)}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("schedule", ["online_bptt_h", "k1_lt_k2"])
def test_a_recorded_pass_keeps_each_version_once(cell, schedule):
    run = run_schedule(problem_of(plan(small_request(cell, schedule=schedule))))
    packs = run.forward.packs
    params = run.updates[0]["params_after"]
    layout = pack_layout(CELLS[cell].pack, tuple((n, v.shape) for n, v in params.items()))
    assert bool(layout) == (cell != "rnn")  # the RNN's pack copies nothing
    for version, update in enumerate(run.updates[:-1], start=1):
        for name, (key, _, _) in layout.items():
            assert np.shares_memory(update["params_after"][name], packs[version][key]), name


SHAPES = [(1,), (1, 1), (2,), (3, 1), (1, 4), (5, 7), (64,)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("windows", [1, 2, 8, 9, 17, 33, 200])
def test_window_sums_are_the_bits_of_numpys_sum_of_the_stack(shape, windows):
    rng = np.random.default_rng(windows)
    grads = [{"W": rng.normal(size=shape) * 10.0 ** rng.integers(-6, 6),
              "b": rng.normal(size=(1,))} for _ in range(windows)]
    summed = WindowSum()
    for grad in grads:
        summed.add(grad)
    total = summed.total()
    assert list(total) == ["W", "b"]
    for name in ("W", "b"):
        expected = np.sum([g[name] for g in grads], axis=0)
        assert total[name].tobytes() == expected.tobytes()
    assert grads[0]["W"] is not total["W"]  # never summed into a window's own array


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("schedule", ["full", "online_bptt_h", "k1_lt_k2"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adam"])
def test_an_unrecorded_pass_gives_the_bits_of_a_recorded_one(cell, schedule, optimizer):
    problem = problem_of(plan(small_request(cell, schedule=schedule,
                                            optimizer={"name": optimizer, "lr": 0.3})))
    opt_state = None
    recorded = unrecorded = None
    for _ in range(3):  # the optimizer's buffers carry over, as in training
        recorded = run_schedule(problem, opt_state)
        unrecorded = run_schedule(problem, opt_state, record=False)
        opt_state = recorded.opt_state
        problem = replace(problem, params=recorded.final_params)
        assert recorded.loss == unrecorded.loss
        for name, value in recorded.final_params.items():
            assert value.tobytes() == unrecorded.final_params[name].tobytes()
        assert [u["grad_norm"] for u in recorded.updates] == [
            u["grad_norm"] for u in unrecorded.updates]
    assert unrecorded is not None and not unrecorded.events and not unrecorded.backwards
    assert all(not isinstance(v, dict | np.ndarray) for u in unrecorded.updates
               for v in u.values())
    # only the versions a later window could still run on keep their pack
    assert sum(1 for packed in unrecorded.forward.packs if packed) <= 3
