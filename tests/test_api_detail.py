"""The detail option: full matrices, or the Frobenius norm of each; "auto" chooses by size."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bptt_studio.core.settings import Settings
from bptt_studio.engine import run_trace
from bptt_studio.engine.outputs.detail import frobenius, with_norms
from bptt_studio.main import create_app
from tests.engine_helpers import CELL_NAMES

SMALL = {"cell": "lstm", "hidden_size": 3, "data": {"text": "hello"}}
LARGE = {"cell": "lstm", "hidden_size": 64, "data": {"text": "abcdefghijklmnopqrstuvwxyz" * 2}}


@pytest.fixture
def tight_client():
    """The app with a response limit of 20 kB: the small LSTM trace is over it in full."""
    with TestClient(create_app(Settings(max_response_bytes=20_000))) as client:
        yield client


def backward_events(result):
    return [e for e in result["events"] if e["kind"] == "backward"]


def test_post_trace_detail_norms_sends_a_norm_per_matrix(client):
    result = client.post("/api/v1/trace", json={**SMALL, "detail": "norms"}).json()
    assert result["detail"] == "norms"
    event = backward_events(result)[0]
    assert all(isinstance(v, float) for v in event["contrib"].values())
    assert all(isinstance(v, float) for v in event["accum"].values())
    assert all(isinstance(v, float) for v in result["updates"][0]["grads"].values())
    assert all(isinstance(v, float) for v in result["params"].values())


def test_post_trace_detail_norms_keeps_every_vector(client):
    full = client.post("/api/v1/trace", json={**SMALL, "detail": "full"}).json()
    norms = client.post("/api/v1/trace", json={**SMALL, "detail": "norms"}).json()
    for a, b in zip(full["events"], norms["events"], strict=True):
        assert {k: v for k, v in a.items() if k not in ("contrib", "accum")} == {
            k: v for k, v in b.items() if k not in ("contrib", "accum")}
    assert full["diagnostics"] == norms["diagnostics"]


def test_post_trace_norms_are_the_frobenius_norms_of_the_full_matrices(client):
    request = {**SMALL, "truncation": {"k1": 2, "k2": 3}}
    full = client.post("/api/v1/trace", json={**request, "detail": "full"}).json()
    norms = client.post("/api/v1/trace", json={**request, "detail": "norms"}).json()
    for a, b in zip(backward_events(full), backward_events(norms), strict=True):
        for key in ("contrib", "accum"):
            for name, matrix in a[key].items():
                assert b[key][name] == pytest.approx(np.linalg.norm(matrix), rel=1e-12)
    for a, b in zip(full["updates"], norms["updates"], strict=True):
        for key in ("grads", "clipped_grads", "params_before", "params_after"):
            for name, matrix in a[key].items():
                assert b[key][name] == pytest.approx(np.linalg.norm(matrix), rel=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_engine_with_norms_matches_norms_of_the_formed_arrays_for_long_windows(cell):
    request = {"cell": cell, "hidden_size": 16, "data": {"text": "the quick brown fox " * 4},
               "truncation": {"k1": 30, "k2": 50}}
    result = run_trace(request)
    reduced = with_norms(result)
    for event, small in zip(result["events"], reduced["events"], strict=True):
        if event["kind"] != "backward":
            continue
        for key in ("contrib", "accum"):
            for name, matrix in dict(event[key]).items():
                expected = np.linalg.norm(matrix)
                assert small[key][name] == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_engine_frobenius_survives_overflow_and_underflow_of_the_squares():
    assert frobenius(np.array([3e200, 4e200])) == pytest.approx(5e200)
    assert frobenius(np.array([3e-200, 4e-200])) == pytest.approx(5e-200)
    assert frobenius(np.array([1.0, np.inf])) == np.inf
    assert np.isnan(frobenius(np.array([np.nan, np.inf])))
    assert frobenius(np.zeros((2, 3))) == 0.0


def test_post_trace_detail_auto_sends_full_matrices_for_a_small_model(client):
    result = client.post("/api/v1/trace", json=SMALL).json()
    assert result["detail"] == "full"
    assert isinstance(backward_events(result)[0]["contrib"]["W_f"], list)


def test_post_trace_detail_auto_sends_norms_when_full_would_be_over_the_limit(client):
    result = client.post("/api/v1/trace", json=LARGE).json()
    assert result["detail"] == "norms"
    assert isinstance(backward_events(result)[0]["contrib"]["W_f"], float)


def test_post_trace_detail_auto_uses_the_configured_response_limit(tight_client):
    result = tight_client.post("/api/v1/trace", json=SMALL).json()
    assert result["detail"] == "norms"


def test_post_trace_rejects_full_detail_over_the_limit_with_413_saying_ask_for_norms(client):
    response = client.post("/api/v1/trace", json={**LARGE, "detail": "full"})
    assert response.status_code == 413
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "detail"]
    assert '"detail": "norms"' in error["msg"]
    assert "BPTT_MAX_RESPONSE_BYTES" in error["msg"]


def test_post_train_applies_detail_to_the_included_trace(client):
    request = {**LARGE, "iterations": 1, "include_trace": True, "detail": "norms"}
    result = client.post("/api/v1/train", json=request).json()
    assert result["trace"]["detail"] == "norms"
    assert isinstance(result["final_params"]["W_f"], list)


def test_full_response_size_estimate_is_close_to_the_real_size(client):
    from bptt_studio.endpoints.detail import estimate_full_bytes

    for request in (SMALL, {"cell": "gru", "hidden_size": 8, "truncation": {"k1": 2}},
                    {"hidden_size": 16, "data": {"series": list(range(40))}}):
        size = len(client.post("/api/v1/trace", json={**request, "detail": "full"}).content)
        estimate = estimate_full_bytes(run_trace(request))
        assert 0.7 * size < estimate < 1.4 * size, (request, size, estimate)


# --- summary: the whole pass without its events ------------------------------------------------

@pytest.mark.parametrize("cell", CELL_NAMES)
def test_post_trace_detail_summary_is_the_norms_trace_without_its_events(client, cell):
    request = {"cell": cell, "hidden_size": 4, "data": {"text": "hello world"},
               "truncation": {"mode": "randomized", "p": 0.5}, "seed": 3}
    norms = client.post("/api/v1/trace", json={**request, "detail": "norms"}).json()
    answer = client.post("/api/v1/trace", json={**request, "detail": "summary"})
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["detail"] == "summary"
    assert summary["events"] == []
    assert {k: v for k, v in summary.items() if k not in ("events", "detail")} == {
        k: v for k, v in norms.items() if k not in ("events", "detail")}
    assert summary["diagnostics"]["full_vs_truncated"] is not None  # what the spread reads


def test_post_trace_detail_summary_is_far_smaller_than_norms(client):
    """The spread's size: an LSTM with H = 16 over 64 steps (the largest the page draws) is
    713 kB with its events' norms and 116 kB without them (what is left is mostly the two
    64 x 64 flow matrices of its diagnostics)."""
    request = {"cell": "lstm", "hidden_size": 16, "data": {"text": "abcdefgh" * 8},
               "truncation": {"mode": "randomized", "p": 0.5}}
    sizes = {detail: len(client.post("/api/v1/trace", json={**request, "detail": detail})
                         .content) for detail in ("norms", "summary")}
    assert sizes["summary"] * 4 < sizes["norms"], sizes


def test_post_train_sends_a_summary_of_the_included_trace(client):
    result = client.post("/api/v1/train", json={**SMALL, "iterations": 2, "include_trace": True,
                                                 "detail": "summary"}).json()
    assert result["trace"]["detail"] == "summary" and result["trace"]["events"] == []


def test_the_csv_has_no_summary_and_says_which_field(client):
    answer = client.post("/api/v1/export/csv", json={**SMALL, "detail": "summary"})
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["body", "detail"]]
