"""Everything a client sends is bounded before it is read: the schema states a bound on every
string, list, mapping and integer of every request body, so nothing unbounded is split,
counted or planned in the worker (issue 23, findings 1 and 9)."""

import tracemalloc

import pytest

from bptt_studio.main import create_app
from bptt_studio.schemas import MAX_PARAM_NAME_CHARS, WORD_CHARS
from bptt_studio.settings import Settings

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
