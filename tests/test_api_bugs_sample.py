"""GET /api/v1/bugs, the request's bug on the endpoints that take it, POST /api/v1/sample and
``bptt-studio sample``."""

from __future__ import annotations

import pytest

from bptt_studio.cli import EXIT_BAD_REQUEST, main
from bptt_studio.endpoints.bugs import texts
from bptt_studio.engine.request.bugs import BUGS
from tests.registries import LANGUAGES

MACHINE = {"data": {"preset": "machine"}}
# a bugged request on each endpoint that takes one: (path, extra body)
BUGGED_ENDPOINTS = {"/api/v1/trace": {}, "/api/v1/gradcheck": {}, "/api/v1/train":
                    {"iterations": 3}, "/api/v1/export/csv": {}, "/api/v1/export/torch": {}}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_catalogue_is_listed_in_the_asked_language(client, lang):
    response = client.get(f"/api/v1/bugs?lang={lang}")
    assert response.status_code == 200 and response.headers["content-language"] == lang
    listed = response.json()
    assert listed["lang"] == lang and [b["id"] for b in listed["bugs"]] == list(BUGS)
    words = texts()[lang]
    for entry in listed["bugs"]:
        assert entry["title"] == words["bugs"][entry["id"]]["title"]
        assert entry["source_text"] == words["sources"][entry["source"]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_a_title_summary_and_source_for_every_bug(lang):
    words = texts()[lang]
    for bug in BUGS.values():
        assert words["bugs"][bug.id]["title"] and words["bugs"][bug.id]["summary"]
        assert words["sources"][bug.source]
    if lang != "en":  # translated, not copied
        assert all(words["bugs"][b]["summary"] != texts()["en"]["bugs"][b]["summary"]
                   for b in BUGS)


@pytest.mark.parametrize(("header", "lang"), [
    ("ru-RU,ru;q=0.9,en;q=0.5", "ru"), ("pt;q=0.8, de", "pt-BR"), ("de-DE", "en"),
    ("en;q=0.1, pt-BR;q=0.9", "pt-BR"), ("", "en")])
def test_without_lang_the_accept_language_header_chooses(client, header, lang):
    response = client.get("/api/v1/bugs", headers={"Accept-Language": header})
    assert response.json()["lang"] == lang and "Accept-Language" in response.headers["vary"]


def test_an_unknown_lang_is_refused_with_the_languages(client):
    response = client.get("/api/v1/bugs?lang=fr")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "lang"]
    assert all(lang in response.json()["detail"][0]["msg"] for lang in LANGUAGES)


@pytest.mark.parametrize("path", BUGGED_ENDPOINTS)
def test_a_bug_is_taken_by_the_endpoint(client, path):
    body = {**MACHINE, "bug": "derivative_missing", **BUGGED_ENDPOINTS[path]}
    assert client.post(path, json=body).status_code == 200


def test_a_bugged_trace_says_where_it_parts_and_its_gradient_check_fails(client):
    body = {**MACHINE, "bug": "h_index_off_by_one"}
    trace = client.post("/api/v1/trace", json=body).json()
    assert trace["config"]["bug"] == "h_index_off_by_one"
    assert trace["bug"]["parting"] == {"update": 0, "t": 6, "line": "contrib", "params": ["W"]}
    check = client.post("/api/v1/gradcheck", json=body).json()
    assert check["ok"] is False and check["max_rel_error"]["W"] > 0.1


def test_a_bugged_script_says_a_bug_was_planted_without_naming_it(client):
    script = client.post("/api/v1/export/torch", json={**MACHINE, "bug": "dh_next_dropped"})
    assert "a bug planted" in script.text
    assert "dh_next_dropped" not in script.text.split('"""', 2)[1]  # not in its prose


def test_the_neuron_view_refuses_a_bug_naming_the_field(client):
    response = client.post("/api/v1/neuron", json={**MACHINE, "bug": "dh_next_dropped",
                                                   "t": 2, "unit": 0})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "bug"]


def test_a_bug_outside_the_catalogue_is_refused_by_the_schema(client):
    response = client.post("/api/v1/trace", json={**MACHINE, "bug": "typo"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "bug"]


def test_sample_writes_text_with_probabilities_and_the_perplexity(client):
    response = client.post("/api/v1/sample", json={**MACHINE, "iterations": 60, "prime": "ma",
                                                   "length": 12, "temperature": 0.5})
    assert response.status_code == 200
    result = response.json()
    assert len(result["steps"]) == 12 and result["text"] == "".join(
        step["token"] for step in result["steps"])
    assert result["perplexity"] >= 1.0 and result["prime"] == "ma"


def test_sample_that_overflows_says_non_finite_and_sends_its_probabilities_as_null(client):
    # found by fuzzing against the document: the probabilities were declared numbers, the
    # answer held nulls (an SGD step of 1.8e308 turns every parameter into NaN)
    response = client.post("/api/v1/sample", json={
        **MACHINE, "cell": "lstm", "iterations": 3, "length": 4,
        "optimizer": {"name": "sgd", "lr": 1.7e308}})
    assert response.status_code == 200
    result = response.json()
    assert result["non_finite"] is True and result["perplexity"] is None
    assert [step["p"] for step in result["steps"]] == [None] * 4
    assert {top["p"] for step in result["steps"] for top in step["top"]} == {None}
    document = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("SampledStep", "TopToken"):  # the document says null can come
        assert {"type": "null"} in document[model]["properties"]["p"]["anyOf"]


@pytest.mark.parametrize(("body", "field"), [
    ({"length": 501}, "length"), ({"temperature": 0}, "temperature"),
    ({"temperature": -1.0}, "temperature"), ({"prime": "zz"}, "prime"),
    ({"iterations": -2}, "iterations"), ({"data": {"preset": "series"}}, "data"),
    ({"sample_seed": "7"}, "sample_seed")])
def test_sample_refuses_a_bad_field_naming_it(client, body, field):
    response = client.post("/api/v1/sample", json={**MACHINE, **body})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_sample_is_judged_by_the_cost_model_like_every_endpoint(client):
    response = client.post("/api/v1/sample", json={
        "data": {"text": "abcdefghij" * 20}, "cell": "lstm", "hidden_size": 64,
        "iterations": 1000, "length": 500})
    assert response.status_code in (413, 422)
    assert "CPU" in response.json()["detail"][0]["msg"] or \
        "memory" in response.json()["detail"][0]["msg"]


def test_the_cli_sample_prints_exactly_the_api_response(client, capsysbinary, tmp_path):
    assert main(["sample", "--preset", "machine", "--iterations", "20", "--length", "9",
                 "--temperature", "0.8", "--sample-seed", "4", "--prime", "mac"]) == 0
    expected = client.post("/api/v1/sample", json={
        **MACHINE, "iterations": 20, "length": 9, "temperature": 0.8, "sample_seed": 4,
        "prime": "mac"}, headers={"Accept-Encoding": "identity"}).content
    assert capsysbinary.readouterr().out == expected


def test_the_cli_sample_prints_the_api_error_for_a_bad_request(capsysbinary):
    assert main(["sample", "--preset", "machine", "--length", "0"]) == EXIT_BAD_REQUEST
    assert b'"length"' in capsysbinary.readouterr().err
