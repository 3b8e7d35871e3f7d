"""POST /api/v1/export/csv: the whole trace as one tidy CSV, one row per number.

Read back with the csv module, every row is the number at its place in /api/v1/trace's JSON
for the same request (same detail), and every number of that JSON has exactly one row.
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from bptt_studio.core.settings import Settings
from bptt_studio.engine import run_trace
from bptt_studio.engine.outputs.tidy import COLUMNS, to_csv, to_csv_bytes
from bptt_studio.main import create_app
from tests.engine_helpers import CELL_NAMES, small_request

NO_GZIP = {"Accept-Encoding": "identity"}
# With detail "norms" the parameter-shaped fields are written as "<field>_norm.<parameter>".
NORM_FIELDS = {f"{field}_norm": field for field in (
    "contrib", "accum", "grads", "clipped_grads", "params_before", "params_after")}


def read_rows(text):
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader)


def post_both(client, body):
    """(the /trace JSON, the CSV's rows) of one request."""
    trace = client.post("/api/v1/trace", json=body)
    exported = client.post("/api/v1/export/csv", json=body)
    assert (trace.status_code, exported.status_code) == (200, 200), exported.text
    return trace.json(), read_rows(exported.text)


def container(trace, row):
    """The JSON object that holds a CSV row's quantity."""
    if row["kind"] == "diagnostics":
        return trace["diagnostics"]
    if row["kind"] == "pass":
        return trace
    event = trace["events"][int(row["event"]) - 1]  # events are numbered from 1
    assert event["kind"] == row["kind"] and event["t"] == int(row["t"])
    field = row["quantity"].split(".")[0]
    field = NORM_FIELDS.get(field, field)
    if event["kind"] == "update" and field not in event:
        return trace["updates"][event["update"]]
    return event


def json_value(trace, row):
    """The number at a row's place: quantity is the path, row/column index the array."""
    value = container(trace, row)
    first, *rest = row["quantity"].split(".")
    for key in [NORM_FIELDS.get(first, first), *rest]:
        value = value[key]
    r, c = int(row["row"]), int(row["column"])
    if isinstance(value, list):
        value = value[r]
        if isinstance(value, list):
            return value[c]
        assert c == 0
        return value
    assert (r, c) == (0, 0)
    return value


def as_number(text):
    return None if text == "" else float(text)


def expected(value):
    if isinstance(value, bool):
        return float(value)
    return None if value is None else float(value)


def count_numbers(value, skip_nulls=False):
    if isinstance(value, dict):
        return sum(count_numbers(v, skip_nulls) for v in value.values())
    if isinstance(value, list):
        return sum(count_numbers(v, skip_nulls) for v in value)
    return 0 if value is None and skip_nulls else 1


def numbers_of_trace(trace):
    """Every number the CSV must hold, counted in the JSON (docs/export-csv.md)."""
    total = 0
    for event in trace["events"]:
        fields = {k: v for k, v in event.items() if k not in ("kind", "t") and v is not None}
        if event["kind"] == "update":
            update = trace["updates"][event["update"]]
            fields.update({k: v for k, v in update.items() if k != "t" and v is not None})
        total += count_numbers(fields)
    # the T×T diagnostics are null above the diagonal: not numbers (these traces are finite)
    total += count_numbers(trace["diagnostics"], skip_nulls=True)
    return total + count_numbers({k: trace[k] for k in ("loss", "non_finite", "scale",
                                                         "sizes", "spectral_radii")},
                                 skip_nulls=True)


def assert_round_trip(trace, rows):
    places = set()
    for row in rows:
        assert as_number(row["value"]) == expected(json_value(trace, row)), row
        places.add((row["event"], row["kind"], row["quantity"], row["row"], row["column"]))
    assert len(places) == len(rows)  # no number twice


# ---------------------------------------------------------------------------------------------
# One row per number, and each row is the JSON's number.


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_csv_has_one_row_per_number_of_the_full_trace_json(client, cell):
    body = {**small_request(cell, schedule="k1_lt_k2"), "detail": "full"}
    trace, rows = post_both(client, body)
    assert trace["detail"] == "full"
    assert_round_trip(trace, rows)
    assert len(rows) == numbers_of_trace(trace)


@pytest.mark.parametrize("body", [
    {"cell": "lstm", "data": {"series": [2, 4, 6, 8, 10]}},  # mse targets, a scale
    {"cell": "gru", "data": {"words": "the cat sat on the mat"}, "loss_at": "last"},
    {"cell": "lstm", "truncation": {"k1": 2}, "spectral_radii": True,  # {W_*: ρ} per version
     "clip": {"mode": "value", "max": 0.01}},
    {"cell": "rnn", "activation": "relu", "truncation": {"k1": 2}, "clip": {"mode": "norm",
                                                                           "max": 0.1}},
    {"diagnostics": False},
])
def test_csv_round_trips_to_the_trace_json_of_other_requests(client, body):
    trace, rows = post_both(client, {**body, "detail": "full"})
    assert_round_trip(trace, rows)
    assert len(rows) == numbers_of_trace(trace)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_csv_with_detail_norms_round_trips_to_the_norms_json(client, cell):
    trace, rows = post_both(client, {**small_request(cell), "detail": "norms"})
    assert trace["detail"] == "norms"
    assert_round_trip(trace, rows)
    assert len(rows) == numbers_of_trace(trace)
    assert {"contrib_norm.W" if cell == "rnn" else "accum_norm.V",
            "params_after_norm.b_y"} <= {row["quantity"] for row in rows}


def test_csv_writes_overflowed_numbers_as_empty_values_where_the_json_has_null(client):
    body = {"activation": "relu", "spectral_radius": 1e200, "detail": "full",
            "data": {"text": "abcabcabcabc"}, "h0": [1.0, 1.0, 1.0, 1.0]}
    trace, rows = post_both(client, body)
    assert trace["non_finite"] is True
    assert_round_trip(trace, rows)
    empty = [row for row in rows if row["value"] == ""]
    assert empty and all(json_value(trace, row) is None for row in empty)
    assert next(r for r in rows if r["quantity"] == "non_finite")["value"] == "1"


# ---------------------------------------------------------------------------------------------
# The columns.


def test_events_are_numbered_from_one_in_trace_order_with_their_step_and_kind():
    result = run_trace(small_request("rnn", schedule="chunked"))
    rows = read_rows(to_csv(result))
    seen = {}
    for row in rows:
        if row["event"]:
            seen.setdefault(int(row["event"]), (int(row["t"]), row["kind"]))
    assert seen == {n: (e["t"], e["kind"]) for n, e in enumerate(result["events"], start=1)}
    assert rows[0] == {"event": "1", "t": "1", "kind": "forward", "quantity": "version",
                       "gate": "", "row": "0", "column": "0", "value": "0", "i": "1", "j": "1"}


def test_gate_column_names_the_gate_of_gate_vectors_and_of_gate_parameters():
    rows = read_rows(to_csv(run_trace(small_request("gru"))))
    gates = {(row["quantity"], row["gate"]) for row in rows}
    assert {("a.z", "z"), ("gates.n", "n"), ("deltas.r", "r"), ("contrib.W_h", "n"),
            ("grads.U_z", "z"), ("params_after.b_r", "r"), ("contrib.V", ""),
            ("grads.b_y", ""), ("h", "")} <= gates


@pytest.mark.parametrize("detail", ["full", "norms"])
def test_accum_norms_have_one_row_per_parameter_in_either_detail(detail):
    result = run_trace(small_request("lstm"))
    rows = read_rows(to_csv(result, detail))
    backward = next(n for n, e in enumerate(result["events"], 1) if e["kind"] == "backward")
    norms = {r["quantity"]: (r["gate"], r["row"], r["column"], float(r["value"])) for r in rows
             if r["event"] == str(backward) and r["quantity"].startswith("accum_norms.")}
    expected_norms = result["events"][backward - 1]["accum_norms"]
    gates = {"V": "", "b_y": ""}
    assert norms == {f"accum_norms.{name}": (gates.get(name, name.split("_")[-1]), "0", "0",
                                             value)
                     for name, value in expected_norms.items()}


def test_vectors_fill_column_zero_and_matrices_are_row_major():
    result = run_trace(small_request("lstm"))
    rows = read_rows(to_csv(result))
    backward = next(n for n, e in enumerate(result["events"], 1) if e["kind"] == "backward")
    w_f = [(int(r["row"]), int(r["column"]), float(r["value"])) for r in rows
           if r["event"] == str(backward) and r["quantity"] == "contrib.W_f"]
    matrix = result["events"][backward - 1]["contrib"]["W_f"]
    assert w_f == [(i, j, matrix[i, j]) for i in range(3) for j in range(3)]
    dc = [(r["row"], r["column"]) for r in rows
          if r["event"] == str(backward) and r["quantity"] == "dc"]
    assert dc == [("0", "0"), ("1", "0"), ("2", "0")]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_i_and_j_number_every_entry_from_one_as_the_page_does(cell):
    rows = read_rows(to_csv(run_trace(small_request(cell, schedule="k1_lt_k2"))))
    assert rows and all((int(r["i"]), int(r["j"])) == (int(r["row"]) + 1, int(r["column"]) + 1)
                        for r in rows)


def test_booleans_are_one_and_zero_and_class_ids_are_integers():
    result = run_trace({"loss_at": "last"})  # "machine": 6 steps, class ids of "achine"
    rows = read_rows(to_csv(result))
    injected = [r["value"] for r in rows if r["quantity"] == "loss_injected"]
    assert injected == ["0"] * 5 + ["1"]
    targets = [r["value"] for r in rows if r["quantity"] == "target"]
    assert targets == [str(int(k)) for k in result["targets"]]


def test_values_read_back_as_the_same_float64():
    result = run_trace(small_request("gru"))
    for row in read_rows(to_csv(result)):
        if row["kind"] == "forward" and row["quantity"] == "h":
            event = result["events"][int(row["event"]) - 1]
            assert float(row["value"]) == event["h"][int(row["row"])]


# ---------------------------------------------------------------------------------------------
# The response, the detail and the bound.


def test_post_export_csv_sends_text_csv_as_an_attachment_with_a_filename(client):
    response = client.post("/api/v1/export/csv", json={}, headers=NO_GZIP)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="bptt-trace.csv"'
    assert response.text.startswith("event,t,kind,quantity,gate,row,column,value,i,j\n")


def test_post_export_csv_is_the_engine_csv_of_the_same_request(client):
    body = small_request("lstm", schedule="online_bptt_h")
    response = client.post("/api/v1/export/csv", json=body, headers=NO_GZIP)
    assert response.content == to_csv_bytes(run_trace(body))


def _small_limit_client():
    """A response limit of 60 kB: the LSTM H=8 trace of the default data is over it in full
    (238 kB as JSON), and its CSV in norms (2,347 rows, 113 kB) within three times it."""
    return TestClient(create_app(Settings(max_response_bytes=60_000)))


def test_auto_detail_exports_norms_when_the_full_trace_is_over_the_response_limit():
    with _small_limit_client() as small:
        trace, rows = post_both(small, {"cell": "lstm", "hidden_size": 8})
    assert trace["detail"] == "norms"
    assert_round_trip(trace, rows)
    assert not any(row["quantity"].startswith("contrib.") for row in rows)


def test_auto_detail_exports_full_matrices_while_the_trace_json_is_sent_in_full(client):
    trace, rows = post_both(client, {"cell": "lstm", "hidden_size": 8})
    assert trace["detail"] == "full"
    assert any(row["quantity"] == "contrib.W_f" for row in rows)


def test_explicit_full_over_the_response_limit_is_413_naming_detail():
    with _small_limit_client() as small:
        response = small.post("/api/v1/export/csv", json={"cell": "lstm", "hidden_size": 8,
                                                          "detail": "full"})
    assert response.status_code == 413
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "detail"]
    assert '"detail": "norms"' in error["msg"] and "BPTT_MAX_RESPONSE_BYTES" in error["msg"]


def test_post_export_csv_rejects_a_bad_request_as_trace_does(client):
    response = client.post("/api/v1/export/csv", json={"hidden_size": 65})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "hidden_size"] and "BPTT_MAX_HIDDEN_SIZE" in error["msg"]
    unknown = client.post("/api/v1/export/csv", json={"detial": "full"}).json()["detail"][0]
    assert unknown["loc"] == ["body", "detial"] and "detail" in unknown["msg"]
