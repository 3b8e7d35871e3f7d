"""Everything a client sends is bounded before it is read: the schema states a bound on every
string, list, mapping and integer of every request body, so nothing unbounded is split,
counted or planned in the worker (issue 23, findings 1 and 9). And every response stays within
its limit, judged before any work (finding 5)."""

import tracemalloc

import numpy as np
import pytest

from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.main import create_app
from bptt_studio.serving import limits
from bptt_studio.serving.limits import MAX_PARAM_NAME_CHARS, WORD_CHARS

DOCUMENT = create_app().openapi()
COMPONENTS = DOCUMENT["components"]["schemas"]
BODIES = {path: operation["post"]["requestBody"]["content"]["application/json"]["schema"]
          for path, operation in DOCUMENT["paths"].items()
          if "requestBody" in operation.get("post", {})}


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[1]]
    return node


def unbounded(node: dict, path: tuple = ()) -> list[tuple[str, tuple]]:
    """(what, where) of every string, list, mapping or integer the schema leaves unbounded."""
    node = resolve(node)
    found = [item for key in ("anyOf", "oneOf", "allOf") for sub in node.get(key, [])
             for item in unbounded(sub, path)]
    kind = node.get("type")
    fixed = "enum" in node or "const" in node
    if kind == "string" and not fixed and "maxLength" not in node:
        found.append(("string", path))
    if kind == "integer" and not fixed and not {"maximum", "exclusiveMaximum"} & set(node):
        found.append(("integer", path))
    if kind == "array":
        if "maxItems" not in node:
            found.append(("array", path))
        found += unbounded(node.get("items", {}), (*path, "*"))
    for name, sub in node.get("properties", {}).items():
        found += unbounded(sub, (*path, name))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        if "maxProperties" not in node or "maxLength" not in node.get("propertyNames", {}):
            found.append(("mapping", path))
        found += unbounded(extra, (*path, "*"))
    return found


@pytest.mark.parametrize("path", sorted(BODIES))
def test_every_string_list_mapping_and_integer_of_the_body_has_a_bound(path):
    assert unbounded(BODIES[path]) == []


def words_body(words: int) -> bytes:
    return b'{"data":{"words":"' + b"a " * words + b'a"}}'


def test_words_over_their_character_bound_are_refused_by_the_schema_before_being_split(client):
    body = words_body(1_499_000)  # 3 MB, the largest body: 1.5 million words
    tracemalloc.start()
    try:
        response = client.post("/api/v1/trace", content=body,
                               headers={"Content-Type": "application/json"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "data", "words"], "string_too_long")
    assert "BPTT_MAX_SEQ_LEN" in error["msg"]
    # parsing the body peaks at 13 times its size (orjson, 39 MB here, whatever the body
    # holds); splitting and counting its words took the request to 171 MB
    assert peak < 20 * len(body), peak


def test_the_words_of_the_longest_sequence_fit_their_character_bound(client):
    settings = Settings()
    word = "w" * (WORD_CHARS - 1)
    words = " ".join([word] * (settings.max_seq_len + 1))
    assert len(words) <= WORD_CHARS * (settings.max_seq_len + 1)
    response = client.post("/api/v1/params", json={"data": {"words": words}})
    assert response.status_code == 200


def test_a_parameter_name_longer_than_any_cells_is_refused_by_the_schema(client):
    response = client.post("/api/v1/trace",
                           json={"params": {"W" * (MAX_PARAM_NAME_CHARS + 1): [0.0]}})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "string_too_long"


LARGEST = Settings()


@pytest.mark.parametrize(("path", "body", "loc", "setting"), [
    ("/api/v1/trace", {"truncation": {"k1": LARGEST.max_seq_len + 1}},
     ["body", "truncation", "k1"], "BPTT_MAX_SEQ_LEN"),
    ("/api/v1/trace", {"truncation": {"k1": 1, "k2": LARGEST.max_seq_len + 1}},
     ["body", "truncation", "k2"], "BPTT_MAX_SEQ_LEN"),
    ("/api/v1/trace", {"data": {"inputs": [[1.0], [0.0]],
                                "targets": [0, LARGEST.max_input_size]}},
     ["body", "data", "targets", 1], "BPTT_MAX_INPUT_SIZE"),
    ("/api/v1/neuron", {"t": 1, "unit": 0, "update": LARGEST.max_seq_len},
     ["body", "update"], None),
], ids=["k1", "k2", "class id", "update"])
def test_a_value_past_its_schema_maximum_is_refused_naming_the_field(client, path, body, loc,
                                                                     setting):
    response = client.post(path, json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, "less_than_equal")
    if setting:
        assert setting in error["msg"]


# ---------------------------------------------------------------------------------------------
# The response: within its limit, judged before the work (finding 5).

def overlapping_lstm_trace() -> dict:
    """About 50 MB of JSON: an LSTM H = 16 in BPTT(1, 100) over 134 steps of 8 symbols, well
    inside the memory and CPU budgets, so the response limit is the one it meets."""
    text = "".join("abcdefgh"[(i * 3) % 8] for i in range(135))
    return {"cell": "lstm", "hidden_size": 16, "truncation": {"k1": 1, "k2": 100},
            "data": {"text": text}}


def test_a_response_over_its_limit_is_refused_with_413_naming_what_to_reduce(client):
    response = client.post("/api/v1/trace", json=overlapping_lstm_trace())
    assert response.status_code == 413
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "truncation", "k2"], "response_too_large")
    assert "BPTT_MAX_RESPONSE_BYTES" in error["msg"] and "truncation k2 at most" in error["msg"]


@pytest.mark.parametrize(("endpoint", "request_"), [
    ("trace", overlapping_lstm_trace()),
    ("export/csv", {**overlapping_lstm_trace(), "hidden_size": 2,
                    "truncation": {"k1": 1, "k2": 40}}),  # 30 MB of CSV
], ids=["trace", "csv"])
def test_a_response_over_its_limit_is_refused_at_admission_before_any_computation(
        endpoint, request_):
    # the worker admits a request before it queues it for a computation process
    # (app/serving/runner.py)
    with pytest.raises(ApiError) as refused:
        COMPUTATIONS[endpoint].admit(request_, {"detail": "auto"}, Settings())
    assert (refused.value.status_code, refused.value.type) == (413, "response_too_large")


def random_request(rng: np.random.Generator) -> dict:
    symbols = int(rng.integers(2, 12))
    steps = int(rng.integers(2, 60))
    k1 = int(rng.integers(1, 4))
    return {"cell": str(rng.choice(["rnn", "lstm", "gru"])),
            "hidden_size": int(rng.integers(1, 16)),
            "data": {"text": "".join(chr(97 + int(i)) for i in rng.integers(0, symbols,
                                                                           steps + 1))},
            "truncation": {"k1": k1, "k2": k1 + int(rng.integers(0, 40))},
            "diagnostics": bool(rng.integers(0, 2))}


ENDPOINTS = {"trace": "trace", "train with its trace": "train", "csv": "export/csv"}


@pytest.mark.parametrize("kind", ENDPOINTS)
def test_every_response_the_server_accepts_stays_within_its_limit(kind):
    settings = Settings(max_response_bytes=100_000)
    endpoint = COMPUTATIONS[ENDPOINTS[kind]]
    options = {"detail": "auto", "iterations": 2, "record_every": 1, "include_trace": True}
    rng = np.random.default_rng(23)
    sizes, refused = [], 0
    for _ in range(30):
        request = random_request(rng)
        try:
            sizes.append(len(endpoint.compute(request, options, settings)))
        except ApiError as exc:
            assert exc.status_code == 413, exc.msg
            refused += 1
    assert refused and len(sizes) >= 5  # both sides of the limit were tried
    assert max(sizes) <= limits.largest_response_bytes(settings), max(sizes)
