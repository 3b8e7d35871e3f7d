"""Fuzzing against the app's own OpenAPI document: no 5xx, every response as declared.

Schemathesis generates requests from /openapi.json, valid ones and invalid ones, and checks
every response: no server error, status code and body as the document declares them, and
schema-invalid requests rejected. The app runs with small limits so each generated request is
quick; the schema carries those limits.

One built-in check is left out: "schema-valid request accepted". A request can fit the
schema and still be refused with a 422 that names the field, because some rules need the data
(a parameter's shape depends on hidden_size and the vocabulary, a class id on the output
size, c0 only exists for the LSTM); those refusals are what the other API tests pin down.
"""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bptt_studio.core.settings import Settings
from bptt_studio.main import create_app

SMALL_LIMITS = Settings(
    max_hidden_size=6, max_seq_len=12, max_input_size=8, max_iterations=20,
    max_train_steps=200, max_gradcheck_evaluations=3000, max_body_bytes=65_536,
    max_response_bytes=200_000,
)

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SMALL_LIMITS))


@schema.parametrize()
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_as_its_openapi_document_declares(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
