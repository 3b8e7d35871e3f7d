"""Mini-batches through the API: every POST endpoint answers a batch or says it reads one
sequence; the shares travel in either detail and in the CSV; the schema's own bound."""

from __future__ import annotations

import re

import pytest

from bptt_studio.core.settings import Settings
from tests.registries import ENDPOINT_OPTIONS, POST_ENDPOINTS

BATCH = {"cell": "gru", "hidden_size": 3,
         "data": {"batch": [{"text": "machine"}, {"text": "learner"}]}, "reduction": "mean"}
# The endpoint that continues one sequence (the text written after it) refuses a batch,
# naming data.batch.
ONE_SEQUENCE = {"sample"}


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_every_endpoint_answers_a_batch_or_says_it_reads_one_sequence(client, endpoint):
    response = client.post(f"/api/v1/{endpoint}",
                           json={**BATCH, **ENDPOINT_OPTIONS.get(endpoint, {})})
    if endpoint in ONE_SEQUENCE:
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "data", "batch"]
        assert "one sequence" in error["msg"]
    else:
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("detail", ["full", "norms"])
def test_a_batch_trace_carries_each_examples_share_in_either_detail(client, detail):
    result = client.post("/api/v1/trace", json={**BATCH, "detail": detail}).json()
    assert result["detail"] == detail and result["sizes"]["n"] == 2
    (update,) = result["updates"]
    shares = update["shares"]
    assert [share["example"] for share in shares] == [0, 1]
    for share in shares:
        assert set(share["grads"]) == set(update["grads"])
        kind = float if detail == "norms" else list
        assert all(isinstance(value, kind) for value in share["grads"].values())
    assert {event.get("example") for event in result["events"]} == {0, 1, None}
    assert len(result["example_diagnostics"]) == 2


def test_the_csv_writes_every_share_and_each_events_example(client):
    text = client.post("/api/v1/export/csv", json=BATCH).text
    rows = [line.split(",") for line in text.splitlines()[1:]]
    quantities = {row[3] for row in rows}
    assert {"example", "shares.0.loss", "shares.1.loss", "shares.1.grads.W_z"} <= quantities
    gates = {row[4] for row in rows if row[3] == "shares.0.grads.W_z"}
    assert gates == {"z"}


def test_a_batch_holds_no_more_numbers_than_one_sequence_may(client):
    settings = Settings()
    steps, width = settings.max_seq_len, settings.max_input_size
    example = {"inputs": [[0.5] * width] * steps, "targets": [1] * steps}
    response = client.post("/api/v1/trace", json={"data": {"batch": [example, example]}})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "batch_too_large"
    assert error["ctx"]["most"] == 2 * steps * width
    assert error["ctx"]["held"] == 2 * (steps * width + steps)


def test_the_openapi_document_states_the_batch_shape_and_its_bounds(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    batch = schemas["BatchData"]["properties"]["batch"]
    assert batch["minItems"] == 1 and batch["maxItems"] == 16
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in batch["items"]["oneOf"]}
    assert refs == {"TextData", "WordsData", "SeriesData", "ArrayData"}


def test_a_batch_over_the_budget_is_told_how_many_sequences_fit(client):
    text = "".join(chr(0x21 + i % 90) for i in range(201))
    body = {"cell": "lstm", "hidden_size": 64, "data": {"batch": [{"text": text}] * 16}}
    refused = client.post("/api/v1/trace", json=body)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "data", "batch"]
    fits = re.search(r"at most (\d+) sequences in the batch", error["msg"])
    assert fits, error["msg"]
    # within the cost budget now; the response's own limit (a 413) may then ask for fewer
    # still, as it does for one long sequence, and says how many
    smaller = {**body, "data": {"batch": [{"text": text}] * int(fits.group(1))}}
    answer = client.post("/api/v1/trace", json=smaller)
    if answer.status_code == 413:
        (error,) = answer.json()["detail"]
        fewer = re.search(r"at most (\d+) sequences in the batch", error["msg"])
        assert fewer, error["msg"]
        smaller["data"] = {"batch": [{"text": text}] * int(fewer.group(1))}
        answer = client.post("/api/v1/trace", json=smaller)
    assert answer.status_code == 200
