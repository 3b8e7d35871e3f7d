"""POST /api/v1/params: the initial parameters and state a trace of the same request starts
from, without the pass (what the page's "fill from seed" and "rescale" ask for)."""

import numpy as np
import pytest

from bptt_studio.engine import initial_params, plan, run_trace
from bptt_studio.engine.planning.cost import Output, estimate

PARAMS_FIELDS = {"params", "h0", "cell_spec", "sizes", "non_finite"}

# Every cell, with the knobs that change the drawn parameters.
SETUPS = [
    {"cell": "rnn", "hidden_size": 3, "seed": 7, "spectral_radius": 1.4},
    {"cell": "lstm", "hidden_size": 3, "seed": 2, "forget_bias": 1.0, "spectral_radius": 0.6},
    {"cell": "gru", "hidden_size": 5, "seed": 9, "forget_bias": -2.0, "spectral_radius": 1.1,
     "data": {"series": [2, 4, 6, 8, 10]}},
]


def first_forward(trace: dict) -> dict:
    return next(e for e in trace["events"] if e["kind"] == "forward")


@pytest.mark.parametrize("request_", SETUPS, ids=[s["cell"] for s in SETUPS])
def test_post_params_gives_the_numbers_the_trace_starts_from(client, request_):
    response = client.post("/api/v1/params", json=request_)
    assert response.status_code == 200
    got = response.json()
    trace = client.post("/api/v1/trace", json={**request_, "detail": "full"}).json()
    assert got["params"] == trace["params"]  # the same float64s, as the same JSON
    assert got["h0"] == first_forward(trace)["h_prev"]
    if request_["cell"] == "lstm":
        assert got["c0"] == first_forward(trace)["c_prev"]
    else:
        assert "c0" not in got
    assert got["cell_spec"] == trace["cell_spec"] and got["sizes"] == trace["sizes"]
    assert set(got) == PARAMS_FIELDS | ({"c0"} if request_["cell"] == "lstm" else set())
    assert got["non_finite"] is False


def test_post_params_applies_forget_bias_and_spectral_radius(client):
    request = {"cell": "lstm", "hidden_size": 4, "forget_bias": 1.5, "spectral_radius": 0.9}
    got = client.post("/api/v1/params", json=request).json()["params"]
    assert got["b_f"] == [1.5] * 4
    for gate in "figo":
        radius = max(abs(np.linalg.eigvals(np.array(got[f"W_{gate}"]))))
        assert radius == pytest.approx(0.9, rel=1e-12)


def test_post_params_echoes_explicit_params_and_state_after_the_checks(client):
    request = {"cell": "lstm", "hidden_size": 2, "data": {"text": "abca"}, "seed": 4}
    params = client.post("/api/v1/params", json=request).json()["params"]
    params["W_o"][1][0] = -0.0
    explicit = {**request, "params": params, "h0": [0.25, -1.0], "c0": [3.0, 0.5]}
    got = client.post("/api/v1/params", json=explicit).json()
    assert got["params"] == params and got["h0"] == [0.25, -1.0] and got["c0"] == [3.0, 0.5]
    trace = client.post("/api/v1/trace", json={**explicit, "detail": "full"}).json()
    assert got["params"] == trace["params"]


def test_post_params_rescales_explicit_params_as_the_trace_does(client):
    request = {"hidden_size": 3, "seed": 1}
    params = client.post("/api/v1/params", json=request).json()["params"]
    rescaled = {**request, "params": params, "spectral_radius": 2.0}
    got = client.post("/api/v1/params", json=rescaled).json()["params"]
    assert got == client.post("/api/v1/trace", json={**rescaled, "detail": "full"}).json()["params"]
    assert got["U"] == params["U"] and got["W"] != params["W"]


def test_post_params_of_the_largest_lstm_is_whole_where_a_full_trace_is_refused(client):
    """H = 64, D = K = 128 (57,728 parameters) over the longest sequence: every number."""
    rng = np.random.default_rng(0)
    data = {"inputs": rng.normal(size=(200, 128)).tolist(),
            "targets": rng.integers(0, 128, 200).tolist()}
    request = {"cell": "lstm", "hidden_size": 64, "data": data, "spectral_radius": 1.0}
    response = client.post("/api/v1/params", json=request)
    assert response.status_code == 200
    got = response.json()
    assert sum(np.size(v) for v in got["params"].values()) == 57_728
    assert len(got["h0"]) == 64 and len(got["c0"]) == 64
    expected = initial_params(request)["params"]
    for name, value in got["params"].items():
        assert np.array_equal(np.array(value), expected[name])
    refused = client.post("/api/v1/trace", json={**request, "detail": "full"})
    assert refused.status_code in (413, 422)  # too large in full (or too costly at all)


def test_post_params_costs_no_pass(client):
    request = {"cell": "lstm", "hidden_size": 64, "data": {"series": list(range(201))},
               "truncation": {"k1": 1, "k2": 200}, "jacobian_norms": True}
    params_cost = estimate(plan(request, task="params").work, Output("json"))
    trace_cost = estimate(plan(request, task="trace").work, Output("json"))
    assert [phase for phase, _, _ in params_cost.phases] == ["base", "json"]
    assert params_cost.cpu_seconds < 0.05 < trace_cost.cpu_seconds
    assert client.post("/api/v1/params", json=request).status_code == 200


@pytest.mark.parametrize(("request_", "loc"), [
    ({"hidden_size": 65}, ["body", "hidden_size"]),
    ({"cell": "gru", "c0": [0.0] * 4}, ["body", "c0"]),
    ({"h0": [0.0] * 3}, ["body", "h0"]),
    ({"params": {"W": [[0.1, None]]}}, ["body", "params", "W", 0, 1]),
    ({"params": {"W": [[0.1] * 3] * 3, "U": [[0.0] * 7] * 4, "b": [0.0] * 4,
                 "V": [[0.0] * 4] * 7, "b_y": [0.0] * 7}}, ["body", "params", "W"]),
    ({"spectral_radius": 0}, ["body", "spectral_radius"]),
    ({"data": {"text": "ab" * 101}}, ["body", "data", "text"]),
    ({"iterations": 3}, ["body", "iterations"]),  # /train's field: unknown here
], ids=["hidden-size", "c0-of-gru", "h0-length", "weight-entry", "weight-shape",
        "spectral-radius", "text-length", "unknown-field"])
def test_post_params_refuses_what_trace_refuses_naming_the_field(client, request_, loc):
    response = client.post("/api/v1/params", json=request_)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == loc
    assert client.post("/api/v1/trace", json=request_).json()["detail"] == [error]


def test_post_params_is_replayed_from_the_response_cache(client):
    request = {"cell": "gru", "hidden_size": 6, "seed": 123}
    first = client.post("/api/v1/params", json=request)
    second = client.post("/api/v1/params", json=request)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.content == second.content


def test_openapi_documents_post_params(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/params"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/TraceApiRequest")  # the same body as /trace
    assert {"200", "413", "422", "503", "504"} <= set(operation["responses"])


def test_engine_initial_params_are_the_trace_params_without_the_pass():
    request = {"cell": "lstm", "hidden_size": 4, "seed": 3, "forget_bias": 2.0,
               "spectral_radius": 1.3, "h0": [0.1, 0.2, 0.3, 0.4]}
    got = initial_params(request)
    trace = run_trace(request)
    for name, value in trace["params"].items():
        assert np.array_equal(got["params"][name], value)
    assert np.array_equal(got["h0"], trace["events"][0]["h_prev"])
    assert np.array_equal(got["c0"], np.zeros(4))
