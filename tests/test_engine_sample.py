"""The text the network writes (engine/sample.py): greedy at a vanishing temperature, the
perplexity as exp of the mean loss, the same text from the same seed, teacher forcing against
free running, a clear error for what cannot be sampled."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bptt_studio.engine import RequestError, run_trace, train
from bptt_studio.engine.tasks.sample import TOP, probabilities, sample
from tests.engine_helpers import CELL_NAMES

TEXTS = {"characters": {"text": "hello world, hello"}, "words": {"words": "a b a c a b a c"}}


def request(cell: str, kind: str = "characters") -> dict:
    return {"cell": cell, "hidden_size": 6, "data": TEXTS[kind], "seed": 2,
            "optimizer": {"name": "adam", "lr": 0.05}}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("kind", TEXTS)
def test_a_vanishing_temperature_writes_the_arg_max_text(cell, kind):
    written = sample(request(cell, kind), iterations=30, length=25, temperature=1e-12, seed=5)
    trained = train(request(cell, kind), iterations=30, continuation_length=25)
    # /train's continuation is the greedy text after the whole data; primed with all of it,
    # the sampler reads the same inputs and must write the same tokens
    tokens = TEXTS[kind].get("text") or TEXTS[kind]["words"]
    whole = sample(request(cell, kind), iterations=30, prime=tokens, length=25,
                   temperature=1e-12, seed=5)
    assert whole["text"] == trained["continuation"]
    assert all(step["p"] == pytest.approx(1.0) for step in written["steps"])
    assert all(step["token"] == step["top"][0]["token"] for step in written["steps"])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_perplexity_is_exp_of_the_mean_loss_of_the_trained_network(cell):
    written = sample(request(cell), iterations=20, length=3)
    params = train(request(cell), iterations=20)["final_params"]
    trace = run_trace({**request(cell), "params": {k: v.tolist() for k, v in params.items()}})
    mean_loss = float(np.mean(trace["step_losses"]))
    assert written["mean_loss"] == pytest.approx(mean_loss, rel=0, abs=1e-12)
    assert written["perplexity"] == pytest.approx(math.exp(mean_loss), rel=1e-12)


def test_the_same_seed_writes_the_same_text_and_another_seed_may_not():
    a = sample(request("lstm"), iterations=5, length=60, temperature=2.0, seed=1)
    b = sample(request("lstm"), iterations=5, length=60, temperature=2.0, seed=1)
    c = sample(request("lstm"), iterations=5, length=60, temperature=2.0, seed=2)
    assert a == b
    assert a["text"] != c["text"]


def test_each_step_reports_its_token_probability_and_the_top_five_at_the_temperature():
    written = sample(request("rnn"), iterations=10, length=8, temperature=0.7, seed=3)
    for step in written["steps"]:
        probs = [alt["p"] for alt in step["top"]]
        assert len(step["top"]) == TOP and probs == sorted(probs, reverse=True)
        assert step["p"] <= probs[0] and 0 < sum(probs) <= 1 + 1e-12


def test_probabilities_stay_finite_and_sum_to_one_at_any_temperature():
    o = np.array([300.0, -200.0, 299.0, 0.0])
    for temperature in (1e-300, 1e-6, 1.0, 100.0):
        p = probabilities(o, temperature)
        assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
    assert probabilities(o, 1e-300)[0] == 1.0


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_teacher_forcing_predicts_from_the_true_text_and_free_running_parts_where_it_differs(
        cell):
    written = sample(request(cell), iterations=40, length=1, temperature=1.0, seed=4)
    forced, free = written["teacher_forcing"], written["free_running"]
    text = TEXTS["characters"]["text"]
    assert forced["inputs"] == list(text[:-1]) and forced["targets"] == list(text[1:])
    assert len(free["tokens"]) == len(forced["targets"])
    part = written["parts_at"]
    if part is None:
        assert free["tokens"] == forced["targets"]
    else:
        assert free["tokens"][:part - 1] == forced["targets"][:part - 1]
        assert free["tokens"][part - 1] != forced["targets"][part - 1]


def test_zero_iterations_writes_from_the_request_s_own_parameters():
    untrained = sample(request("gru"), iterations=0, length=5, seed=1)
    assert untrained["iterations"] == 0
    trace = run_trace(request("gru"))
    assert untrained["mean_loss"] == pytest.approx(float(np.mean(trace["step_losses"])),
                                                   abs=1e-12)


@pytest.mark.parametrize(("changes", "options", "field"), [
    ({"data": {"series": [1.0, 2.0, 3.0]}}, {}, "data"),
    ({"loss": "mse"}, {}, "loss"),
    ({}, {"prime": "xyz"}, "prime"),
    ({}, {"prime": ""}, "prime"),
    ({}, {"length": 0}, "length"),
    ({}, {"length": 501}, "length"),
    ({}, {"temperature": 0.0}, "temperature"),
    ({}, {"iterations": -1}, "iterations"),
])
def test_what_cannot_be_sampled_is_refused_naming_the_field(changes, options, field):
    with pytest.raises(RequestError) as err:
        sample({**request("rnn"), **changes}, **options)
    assert err.value.loc == (field,)
