"""POST /api/v1/neuron, read like the contract: status first, then fields and numbers.

The body is /trace's request plus {"t", "unit", "update", "convention"}; the answer is
engine.neuron's view, whose terms sum to the numbers /api/v1/trace reports.
"""

from __future__ import annotations

import json
import math

import pytest

from bptt_studio.cli import EXIT_BAD_REQUEST, main
from bptt_studio.core.jsonio import dumps
from bptt_studio.engine import neuron
from tests.engine_helpers import CELL_NAMES, small_request

NO_GZIP = {"Accept-Encoding": "identity"}
VIEW_FIELDS = {"cell", "t", "unit", "update", "window", "version", "next", "convention", "dh",
               "non_finite"}


def only_error(response):
    detail = response.json()["detail"]
    assert len(detail) == 1, detail
    return detail[0]


def trace_event(trace, kind, t, update=0):
    return next(e for e in trace["events"] if e["kind"] == kind and e["t"] == t
                and e.get("update", update) == update)


def close_sum(values, total):
    return abs(math.fsum(values) - total) <= 1e-12 * math.fsum(abs(v) for v in values)


def close_product(values, result):
    return abs(math.prod(values) - result) <= 1e-12 * abs(math.prod(values))


def test_post_neuron_returns_the_rnn_unit_view_with_its_sum_and_product(client):
    response = client.post("/api/v1/neuron", json={"t": 3, "unit": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    view = response.json()
    assert set(view) == VIEW_FIELDS | {"activation", "delta"}
    assert (view["cell"], view["t"], view["unit"], view["update"], view["window"]) == (
        "rnn", 3, 1, 0, [1, 6])
    assert [term["name"] for term in view["dh"]["terms"]] == ["dh_out", "dh_next"]
    assert [f["name"] for f in view["delta"]["factors"]] == ["phi_prime", "dh"]
    assert view["non_finite"] is False


@pytest.mark.parametrize(("cell", "extra"), [("lstm", {"dc", "deltas"}), ("gru", {"deltas"})])
def test_post_neuron_returns_each_gate_delta_of_a_gated_cell(client, cell, extra):
    view = client.post("/api/v1/neuron", json={"cell": cell, "t": 2, "unit": 0}).json()
    assert set(view) == VIEW_FIELDS | extra
    assert list(view["deltas"]) == (["f", "i", "g", "o"] if cell == "lstm" else ["z", "r", "n"])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_neuron_terms_sum_to_the_numbers_of_the_trace_api(client, cell):
    body = small_request(cell, schedule="k1_lt_k2")
    trace = client.post("/api/v1/trace", json={**body, "detail": "full"}).json()
    for update, window in enumerate(trace["windows"]):
        for t in range(window["first"], window["last"] + 1):
            event = trace_event(trace, "backward", t, update)
            for j in range(3):
                view = client.post("/api/v1/neuron", json={**body, "t": t, "unit": j,
                                                           "update": update}).json()
                terms = [term["value"] for term in view["dh"]["terms"]]
                assert view["dh"]["value"] == event["dh"][j]
                assert close_sum(terms, event["dh"][j])
                deltas = ({"": view["delta"]} if cell == "rnn" else view["deltas"])
                for gate, node in deltas.items():
                    recorded = event["delta"][j] if cell == "rnn" else event["deltas"][gate][j]
                    assert node["value"] == recorded
                    assert close_product([f["value"] for f in node["factors"]], recorded)


def test_post_neuron_is_the_engine_view_as_json(client):
    body = small_request("gru", schedule="online_bptt_h")
    response = client.post("/api/v1/neuron", json={**body, "t": 3, "unit": 2, "update": 3},
                           headers=NO_GZIP)
    expected = neuron(body, 3, 2, update=3)
    assert json.loads(response.content) == json.loads(dumps({**expected, "non_finite": False}))


def test_post_neuron_in_haykins_convention_negates_the_local_gradient(client):
    body = {"cell": "lstm", "t": 4, "unit": 2}
    ours = client.post("/api/v1/neuron", json=body).json()
    haykin = client.post("/api/v1/neuron", json={**body, "convention": "haykin"}).json()
    assert haykin["convention"] == "haykin"
    for gate in "figo":
        assert haykin["deltas"][gate]["value"] == -ours["deltas"][gate]["value"]
    assert haykin["dh"]["terms"][0]["weights"] == ours["dh"]["terms"][0]["weights"]


def test_post_neuron_without_update_reads_the_first_window_holding_t(client):
    view = client.post("/api/v1/neuron", json={"truncation": {"k1": 2, "k2": 4}, "t": 2,
                                               "unit": 0}).json()
    assert (view["update"], view["window"]) == (0, [1, 2])


def test_post_neuron_sends_overflowed_numbers_as_null_and_says_so(client):
    body = {"activation": "relu", "spectral_radius": 1e200, "data": {"text": "abcabcabcabc"},
            "h0": [1.0] * 4, "t": 5, "unit": 0}
    response = client.post("/api/v1/neuron", json=body)
    assert response.status_code == 200
    assert response.json()["non_finite"] is True


def test_post_neuron_reads_a_bidirectional_networks_reverse_unit_as_the_engine_does(client):
    body = {"cell": "lstm", "num_layers": 2, "bidirectional": True, "hidden_size": 3}
    response = client.post("/api/v1/neuron", json={**body, "t": 3, "unit": 1, "layer": 1,
                                                   "direction": "reverse"}, headers=NO_GZIP)
    assert response.status_code == 200
    view = json.loads(response.content)
    assert (view["layer"], view["direction"], view["next"]["t"]) == (1, "reverse", 2)
    expected = neuron(body, 3, 1, layer=1, direction="reverse")
    assert view == json.loads(dumps({**expected, "non_finite": False}))
    top = client.post("/api/v1/neuron", json={**body, "t": 3, "unit": 1}).json()
    assert (top["layer"], top["direction"]) == (2, "forward")  # the top, forward by default


# ---------------------------------------------------------------------------------------------
# Refusals name the field.


@pytest.mark.parametrize(("body", "loc", "words"), [
    ({"t": 7, "unit": 0}, ["body", "t"], "t runs 1..6"),
    ({"t": 0, "unit": 0}, ["body", "t"], "greater than or equal to 1"),
    ({"t": 201, "unit": 0}, ["body", "t"], "less than or equal to 200"),
    ({"t": 2, "unit": 4}, ["body", "unit"], "units are 0..3 (0-based, hidden_size = 4)"),
    ({"t": 2, "unit": 64}, ["body", "unit"], "less than 64"),
    ({"t": 2, "unit": -1}, ["body", "unit"], "greater than or equal to 0"),
    ({"t": 2, "unit": 0, "update": 1}, ["body", "update"], "updates 0..0"),
    ({"t": 1, "unit": 0, "update": 2, "truncation": {"k1": 2}}, ["body", "t"],
     "outside the window of update 2, which runs back over steps 5..6"),
    ({"unit": 0}, ["body", "t"], "Field required"),
    ({"t": 2}, ["body", "unit"], "Field required"),
    ({"t": "2", "unit": 0}, ["body", "t"], "valid integer"),
    ({"t": 2, "unit": 0, "convention": "d2l"}, ["body", "convention"], "'gradient' or 'haykin'"),
    ({"t": 2, "unit": 0, "hidden_size": 65}, ["body", "hidden_size"], "BPTT_MAX_HIDDEN_SIZE"),
    ({"t": 2, "unit": 0, "direction": "reverse"}, ["body", "direction"],
     "only a bidirectional network"),
    ({"t": 2, "unit": 0, "bidirectional": True, "direction": "back"}, ["body", "direction"],
     "'forward' or 'reverse'"),
])
def test_post_neuron_rejects_a_bad_position_naming_the_field(client, body, loc, words):
    response = client.post("/api/v1/neuron", json=body)
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == loc
    assert words in error["msg"]


def test_post_neuron_rejects_an_unknown_field_listing_the_accepted_ones(client):
    error = only_error(client.post("/api/v1/neuron", json={"t": 2, "unit": 0, "j": 1}))
    assert error["loc"] == ["body", "j"]
    assert "accepted fields here" in error["msg"] and "unit" in error["msg"]


def test_post_neuron_rejects_a_body_that_is_not_json(client):
    response = client.post("/api/v1/neuron", content=b"{t: 2",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_openapi_documents_the_neuron_and_csv_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    neuron_post = paths["/api/v1/neuron"]["post"]
    assert {"200", "400", "413", "422"} <= set(neuron_post["responses"])
    csv_ok = paths["/api/v1/export/csv"]["post"]["responses"]["200"]
    assert "text/csv" in csv_ok["content"]


# ---------------------------------------------------------------------------------------------
# The commands print the API's bytes.


def test_cli_neuron_prints_exactly_the_api_response(client, capsysbinary):
    assert main(["neuron", "--preset", "sentence", "--t", "3", "--unit", "2",
                 "--convention", "haykin"]) == 0
    response = client.post("/api/v1/neuron", headers=NO_GZIP, json={
        "data": {"preset": "sentence"}, "t": 3, "unit": 2, "convention": "haykin"})
    assert capsysbinary.readouterr().out == response.content


def test_cli_export_csv_prints_exactly_the_api_csv(client, capsysbinary, tmp_path):
    request = {"cell": "lstm", "hidden_size": 3, "data": {"text": "hello"}}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert main(["export-csv", "--request", str(path), "--detail", "norms"]) == 0
    response = client.post("/api/v1/export/csv", json={**request, "detail": "norms"},
                           headers=NO_GZIP)
    assert capsysbinary.readouterr().out == response.content


def test_cli_neuron_with_a_step_outside_the_sequence_prints_the_api_error(capsysbinary):
    assert main(["neuron", "--preset", "machine", "--t", "9", "--unit", "0"]) == EXIT_BAD_REQUEST
    error = json.loads(capsysbinary.readouterr().err)["detail"][0]
    assert error["loc"] == ["body", "t"] and "t runs 1..6" in error["msg"]
