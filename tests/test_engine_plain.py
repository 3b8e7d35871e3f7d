"""Results as plain data: engine.to_data gives the API's numbers as lists, floats and None."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bptt_studio.engine import gradcheck, run_trace, to_data, train

SCENARIOS = {
    "rnn_text_full_bptt": {"cell": "rnn", "data": {"text": "machine"}},
    "lstm_words_truncated": {"cell": "lstm", "hidden_size": 3,
                             "data": {"words": "the cat sat on the mat"},
                             "truncation": {"k1": 2, "k2": 3}},
    "gru_series_adam_clip": {"cell": "gru", "data": {"series": [2, 4, 6, 8, 10]},
                             "optimizer": {"name": "adam", "lr": 0.05},
                             "clip": {"mode": "norm", "max": 0.5}},
}

# ReLU units with W scaled to spectral radius 1e10: h grows like 1e10^t and overflows float64
# after about 30 of the 40 steps.
OVERFLOWING = {"cell": "rnn", "activation": "relu", "hidden_size": 4, "spectral_radius": 1e10,
               "data": {"series": [float(t % 7) for t in range(41)]}, "diagnostics": False}


def plain_types(value: object) -> set[type]:
    """Every type found inside a value (containers included)."""
    found = {type(value)}
    if isinstance(value, dict):
        for item in value.values():
            found |= plain_types(item)
    elif isinstance(value, list):
        for item in value:
            found |= plain_types(item)
    return found


@pytest.mark.parametrize("name", SCENARIOS)
def test_to_data_is_exactly_the_trace_the_api_sends_for_full_detail(client, name):
    request = SCENARIOS[name]
    sent = client.post("/api/v1/trace", json={**request, "detail": "full"}).json()
    assert sent.pop("detail") == "full"  # the one field the API adds: which detail it chose
    assert to_data(run_trace(request)) == sent


@pytest.mark.parametrize("name", SCENARIOS)
def test_to_data_holds_only_json_types_and_json_dumps_writes_it(name):
    data = to_data(run_trace(SCENARIOS[name]))
    assert plain_types(data) <= {dict, list, str, int, float, bool, type(None)}
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_to_data_leaves_the_numpy_result_as_it_was():
    result = run_trace(SCENARIOS["lstm_words_truncated"])
    grads = result["updates"][0]["grads"]["W_f"].copy()
    data = to_data(result)
    assert isinstance(result["updates"][0]["grads"]["W_f"], np.ndarray)
    np.testing.assert_array_equal(result["updates"][0]["grads"]["W_f"], grads)
    assert data["updates"][0]["grads"]["W_f"] == grads.tolist()


def test_to_data_forms_the_lazy_per_step_contributions():
    result = run_trace(SCENARIOS["rnn_text_full_bptt"])
    backward = next(e for e in result["events"] if e["kind"] == "backward")
    index = result["events"].index(backward)
    data = to_data(result)["events"][index]
    assert data["contrib"]["W"] == backward["contrib"]["W"].tolist()
    assert data["accum"]["W"] == backward["accum"]["W"].tolist()


def test_overflowed_numbers_become_none_and_the_result_says_non_finite():
    result = run_trace(OVERFLOWING)
    data = to_data(result)
    text = json.dumps(data, allow_nan=False)  # raises on NaN or Infinity
    assert "null" in text
    assert data["non_finite"] is True
    losses = data["step_losses"]
    assert None in losses and all(v is None or math.isfinite(v) for v in losses)


def test_overflowed_numbers_are_the_nulls_the_api_sends(client):
    sent = client.post("/api/v1/trace", json={**OVERFLOWING, "detail": "full"}).json()
    del sent["detail"]
    assert to_data(run_trace(OVERFLOWING)) == sent


def test_train_and_gradcheck_results_become_plain_data_too():
    trained = to_data(train(SCENARIOS["rnn_text_full_bptt"], 5))
    checked = to_data(gradcheck(SCENARIOS["gru_series_adam_clip"]))
    for data in (trained, checked):
        assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_to_data_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError, match="set"):
        to_data({"tokens": {"a", "b"}})
