"""What the page displays, the engine sends: the lengths of the error vectors the network writes
on its strands (a backward event's ``norms``) and the kind of each preset's data (``GET
/api/v1/presets``), so the browser computes neither."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bptt_studio.engine import PRESETS, list_presets, run_trace
from tests.engine_helpers import CELL_NAMES

CASES = [
    pytest.param({"cell": "rnn"}, id="rnn"),
    pytest.param({"cell": "lstm"}, id="lstm"),
    pytest.param({"cell": "gru"}, id="gru"),
    pytest.param({"cell": "lstm", "truncation": {"k1": 2, "k2": 3}}, id="lstm-bptt-2-3"),
    pytest.param({"cell": "rnn", "loss_at": "last"}, id="rnn-last-step"),
]


def backward_events(result: dict) -> list:
    return [ev for ev in result["events"] if ev["kind"] == "backward"]


@pytest.mark.parametrize("overrides", CASES)
def test_backward_event_norms_are_the_lengths_of_its_error_vectors(overrides):
    result = run_trace({"data": {"text": "machine"}, "hidden_size": 3, **overrides})
    lstm = result["config"]["cell"] == "lstm"
    for ev in backward_events(result):
        names = ["dh_out", "dh_next", "dh"] + (["dc_next"] if lstm else [])
        assert list(ev["norms"]) == names
        for name in names:
            assert ev["norms"][name] == pytest.approx(np.linalg.norm(ev[name]), rel=1e-12,
                                                      abs=1e-300), (ev["t"], name)


def test_norms_of_a_window_end_are_zero_where_nothing_comes_back():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 2}})
    for ev in backward_events(result):
        if ev["t"] == ev["window"][1]:
            assert ev["norms"]["dh_next"] == 0.0


def test_norms_survive_overflow_as_inf_or_nan_never_a_wrong_number():
    result = run_trace({"data": {"preset": "exploding"}, "spectral_radius": 1e200})
    assert result["non_finite"]
    for ev in backward_events(result):
        for name, value in ev["norms"].items():
            vector = np.asarray(ev[name], dtype=float)
            if np.all(np.isfinite(vector)):
                assert math.isfinite(value) or np.max(np.abs(vector)) > 1e150, (ev["t"], name)
            else:
                assert not math.isfinite(value), (ev["t"], name)


def test_norms_are_plain_floats_and_reach_the_api(client):
    response = client.post("/api/v1/trace", json={"cell": "lstm", "hidden_size": 2})
    assert response.status_code == 200
    events = [ev for ev in response.json()["events"] if ev["kind"] == "backward"]
    assert events and all(set(ev["norms"]) == {"dh_out", "dh_next", "dh", "dc_next"}
                           for ev in events)
    assert all(isinstance(v, float) for ev in events for v in ev["norms"].values())


def test_norms_reach_the_api_with_detail_norms(client):
    response = client.post("/api/v1/trace", json={"detail": "norms"})
    assert response.status_code == 200
    ev = next(ev for ev in response.json()["events"] if ev["kind"] == "backward")
    assert ev["norms"]["dh"] == pytest.approx(float(np.linalg.norm(ev["dh"])))


# ---- the kind of each preset's data ------------------------------------------------------------


def test_each_preset_names_the_kind_of_its_data():
    kinds = {p["id"]: p["kind"] for p in list_presets()}
    assert kinds == {"machine": "text", "series": "series", "sentence": "words",
                     "sine": "series", "long_range": "text", "exploding": "text"}


def test_a_preset_of_explicit_arrays_is_of_kind_arrays():
    preset = next(iter(PRESETS.values()))
    arrays = type(preset)("arrays", "t", "d", {"data": {"inputs": [[1.0]], "targets": [0]}})
    assert arrays.kind == "arrays"


def test_the_kind_matches_the_data_the_preset_runs_on():
    for p in list_presets():
        result = run_trace(p["request"])
        if p["kind"] == "series":
            assert result["scale"] is not None
        else:
            assert result["scale"] is None and result["vocab"]
            multi = any(len(token) > 1 for token in result["vocab"])
            assert multi == (p["kind"] == "words"), p["id"]


def test_get_presets_sends_each_kind(client):
    response = client.get("/api/v1/presets")
    assert response.status_code == 200
    assert {p["id"]: p["kind"] for p in response.json()} == {
        p["id"]: p["kind"] for p in list_presets()}


# ---- the norms of the running sums, for the accumulator chart ----------------------------------

OVERFLOW = {"activation": "relu", "spectral_radius": 1e29, "data": {"text": "abcabcabcabc"},
            "h0": [1.0, 1.0, 1.0, 1.0]}
# A window whose running sums are too large to form for their norms (n·a·b over
# engine.norms.FORM_LIMIT): their norms come from the factors' Gram matrices.
LARGE = {"cell": "lstm", "hidden_size": 12,
         "data": {"text": "the quick brown fox jumps over the lazy dog"}}
NORM_CASES = [*CASES, pytest.param(LARGE, id="lstm-large-window")]


def frobenius_of(matrix) -> float:
    return float(np.linalg.norm(np.asarray(matrix, dtype=float)))


def test_the_large_case_is_over_the_limit_of_sums_formed_for_their_norms():
    from bptt_studio.engine.bptt.norms import FORM_LIMIT

    T, H = len(LARGE["data"]["text"]) - 1, LARGE["hidden_size"]
    assert T * H * H > FORM_LIMIT


@pytest.mark.parametrize("overrides", NORM_CASES)
def test_accum_norms_are_the_frobenius_norms_of_the_running_sums(overrides):
    result = run_trace({"data": {"text": "machine"}, "hidden_size": 3, **overrides})
    names = list(result["cell_spec"]["params"])
    for ev in backward_events(result):
        assert list(ev["accum_norms"]) == names
        for name in names:
            assert ev["accum_norms"][name] == pytest.approx(
                frobenius_of(ev["accum"][name]), rel=1e-10, abs=1e-300), (ev["t"], name)


@pytest.mark.parametrize("overrides", NORM_CASES)
def test_accum_norms_are_the_same_numbers_whatever_was_read_before_them(overrides):
    request = {"data": {"text": "machine"}, "hidden_size": 3, **overrides}
    untouched = run_trace(request)  # the norms read first
    formed = run_trace(request)
    for ev in backward_events(formed):
        dict(ev["accum"])  # as a full trace is sent: every running sum formed first
    for a, b in zip(backward_events(untouched), backward_events(formed), strict=True):
        assert dict(a["accum_norms"]) == dict(b["accum_norms"])  # bit for bit


@pytest.mark.parametrize("overrides", NORM_CASES)
def test_reading_accum_norms_keeps_no_running_sum(overrides):
    result = run_trace({"data": {"text": "machine"}, "hidden_size": 8, **overrides})
    for ev in backward_events(result):
        dict(ev["accum_norms"])
    windows = {id(ev["accum"].window): ev["accum"].window for ev in backward_events(result)}
    assert windows and all(not w._running for w in windows.values())


def test_accum_norms_of_the_last_step_are_the_norms_of_its_contributions():
    result = run_trace({"cell": "gru", "hidden_size": 3, "data": {"text": "machine"}})
    first = backward_events(result)[0]  # t = T: the running sum holds one contribution
    for name, value in first["accum_norms"].items():
        assert value == pytest.approx(frobenius_of(first["contrib"][name]), rel=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_accum_norms_reach_the_api_with_detail_full_as_the_norms_of_accum(client, cell):
    response = client.post("/api/v1/trace", json={
        "cell": cell, "hidden_size": 3, "truncation": {"k1": 2, "k2": 3}, "detail": "full"})
    assert response.status_code == 200
    trace = response.json()
    assert trace["detail"] == "full"
    for ev in backward_events(trace):
        assert set(ev["accum_norms"]) == set(ev["accum"])
        for name, value in ev["accum_norms"].items():
            assert isinstance(value, float)
            assert value == pytest.approx(frobenius_of(ev["accum"][name]), rel=1e-10)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_accum_norms_reach_the_api_with_detail_norms_as_accum_itself(client, cell):
    response = client.post("/api/v1/trace", json={
        "cell": cell, "hidden_size": 3, "truncation": {"k1": 2, "k2": 3}, "detail": "norms"})
    assert response.status_code == 200
    trace = response.json()
    assert trace["detail"] == "norms"
    for ev in backward_events(trace):
        assert ev["accum_norms"] == ev["accum"]  # the same numbers, from one table


@pytest.mark.parametrize("detail", ["full", "norms"])
def test_overflowed_accum_norms_are_null_with_non_finite(client, detail):
    response = client.post("/api/v1/trace", json={**OVERFLOW, "detail": detail})
    assert response.status_code == 200
    trace = response.json()
    assert trace["non_finite"] is True
    values = [v for ev in backward_events(trace) for v in ev["accum_norms"].values()]
    assert None in values
    for ev in backward_events(trace):
        for name, value in ev["accum_norms"].items():
            accum = ev["accum"][name]
            if value is None and detail == "full":  # an entry overflowed, or the norm did
                flat = np.asarray(accum, dtype=object).ravel()
                assert any(x is None for x in flat) or not math.isfinite(
                    frobenius_of(np.asarray(accum, dtype=float)))
            if detail == "norms":
                assert value == accum
