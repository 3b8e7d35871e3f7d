"""The OpenAPI document and the engine's own checks say the same about a request.

Both come from the engine's dataclasses (engine/request.py: every field's constraints, and
``RULES`` between fields). What the engine's walker checks, the document states; a request the
document accepts passes the walker. What only the data can tell (parameter shapes, class ids,
h0's length, the vocabulary against output_size) and k2 >= k1 are checked when the request is
planned, and the document says so in the fields' descriptions.
"""

import jsonschema_rs  # JSON Schema 2020-12 validation; comes with schemathesis (dev extra)
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from bptt_studio.core.settings import Settings
from bptt_studio.engine import RequestError
from bptt_studio.engine.request.fields import parse_request
from bptt_studio.main import create_app

SMALL_LIMITS = Settings(
    max_hidden_size=6, max_seq_len=12, max_input_size=8, max_iterations=20,
    max_train_steps=200, max_gradcheck_evaluations=3000, max_body_bytes=65_536,
    max_response_bytes=200_000,
)
APP = create_app(SMALL_LIMITS)
DOCUMENT = APP.openapi()
GRADCHECK = schemathesis.openapi.from_asgi("/openapi.json", APP)["/api/v1/gradcheck"]["POST"]


def request_validator():
    """The document's schema of the engine's request (POST /gradcheck's body)."""
    schema = {"$ref": "#/components/schemas/TraceRequest",
              "components": DOCUMENT["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


@given(GRADCHECK.as_strategy())
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_request_the_openapi_document_accepts_passes_the_engines_field_checks(case):
    parse_request(case.body)  # raises RequestError naming the field if the two disagree


@pytest.mark.parametrize(("request_", "loc"), [
    ({"cell": "gru", "c0": [0.0] * 4}, ("c0",)),
    ({"c0": [0.0] * 4}, ("c0",)),  # the default cell, rnn, has no cell state either
    ({"optimizer": {"name": "adam", "betas": [0.9, 1.0]}}, ("optimizer", "betas", 1)),
    ({"optimizer": {"name": "adam", "betas": [-0.1, 0.9]}}, ("optimizer", "betas", 0)),
    ({"data": {"preset": "no_such_preset"}}, ("data", "preset")),
    ({"cell": "transformer"}, ("cell",)),
    ({"seed": 2**53}, ("seed",)),
    ({"diagnostics": False, "jacobian_norms": True}, ("jacobian_norms",)),
    ({"params": {"W": [[0.1, True]]}}, ("params", "W", 0, 1)),  # not silently 1.0
    ({"params": {"b": [0.1, "0.2"]}}, ("params", "b", 1)),
    ({"params": {"W": 0.1}}, ("params", "W")),
])
def test_what_the_engine_refuses_the_openapi_document_refuses_too(request_, loc):
    with pytest.raises(RequestError) as error:
        parse_request(request_)
    assert error.value.loc == loc
    assert not request_validator().is_valid(request_)


@pytest.mark.parametrize("request_", [
    {"cell": "lstm", "c0": [0.0] * 4},
    {"optimizer": {"name": "adam", "betas": [0.0, 0.999]}},
    {"data": {"preset": "long_range"}},
    {"seed": 2**53 - 1},
    {"jacobian_norms": True},
    {"params": {"W": [[0.1, 2]], "b": [0.0, -1]}},  # shapes are the plan's to check
])
def test_what_the_engine_accepts_at_the_edges_the_openapi_document_accepts(request_):
    parse_request(request_)
    assert request_validator().is_valid(request_)


def test_openapi_states_the_seeds_largest_value_exactly():
    seed = DOCUMENT["components"]["schemas"]["TraceRequest"]["properties"]["seed"]
    assert seed["maximum"] == 2**53 - 1 and int(seed["maximum"]) == 2**53 - 1
