"""The endpoints under /api/v1, read like the contract: status first, then fields and shapes."""

import pytest

from bptt_studio.endpoints.endpoint import Computation
from bptt_studio.endpoints.registry import COMPUTATIONS, ENDPOINTS
from bptt_studio.engine import list_presets
from tests.registries import ENDPOINT_OPTIONS, POST_ENDPOINTS

TRACE_FIELDS = {"config", "vocab", "inputs", "targets", "scale", "params", "events", "updates",
                "loss", "step_losses", "loss_steps", "windows", "diagnostics", "non_finite",
                "sizes", "detail", "cell_spec", "spectral_radii"}


def test_get_presets_lists_every_scenario_with_its_request(client):
    response = client.get("/api/v1/presets")
    assert response.status_code == 200
    presets = response.json()
    assert presets == list_presets()
    assert {"id", "title", "description", "request"} <= set(presets[0])


def test_post_trace_with_empty_object_runs_the_default_machine_preset(client):
    response = client.post("/api/v1/trace", json={})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    result = response.json()
    assert set(result) == TRACE_FIELDS
    assert result["vocab"] == ["a", "c", "e", "h", "i", "m", "n"]
    assert result["sizes"] == {"T": 6, "D": 7, "H": 4, "K": 7}
    assert result["non_finite"] is False


def test_post_trace_orders_events_forward_then_backward_then_update(client):
    events = client.post("/api/v1/trace", json={"data": {"text": "hello"}}).json()["events"]
    kinds = [event["kind"] for event in events]
    assert kinds == ["forward"] * 4 + ["backward"] * 4 + ["update"]
    assert [e["t"] for e in events if e["kind"] == "backward"] == [4, 3, 2, 1]


def test_post_trace_sends_every_backward_matrix_for_a_small_model(client):
    result = client.post("/api/v1/trace", json={"cell": "lstm", "hidden_size": 3}).json()
    backward = next(e for e in result["events"] if e["kind"] == "backward")
    assert result["detail"] == "full"
    assert set(backward["contrib"]) == set(result["params"])
    assert len(backward["accum"]["W_f"]) == 3 and len(backward["accum"]["W_f"][0]) == 3
    assert set(backward["deltas"]) == {"f", "i", "g", "o"}


def test_post_trace_of_series_reports_scale_and_mse(client):
    result = client.post("/api/v1/trace", json={"data": {"series": [2, 4, 6, 8, 10]}}).json()
    assert result["config"]["loss"] == "mse"
    assert result["scale"] == {"mean": 6.0, "std": 2.8284271247461903}


def test_post_trace_with_preset_uses_the_preset_settings_unless_overridden(client):
    plain = client.post("/api/v1/trace", json={"data": {"preset": "sentence"}}).json()
    overridden = client.post("/api/v1/trace", json={"data": {"preset": "sentence"},
                                                    "hidden_size": 3}).json()
    assert plain["sizes"]["H"] == 8
    assert overridden["sizes"]["H"] == 3


def test_post_trace_with_truncation_compares_full_and_truncated_gradients(client):
    result = client.post("/api/v1/trace", json={"truncation": {"k1": 2, "k2": 3}}).json()
    assert [u["window"] for u in result["updates"]] == [[1, 2], [2, 4], [4, 6]]
    assert set(result["diagnostics"]["full_vs_truncated"]) == {"cosine", "relative_error"}


def test_post_trace_sends_diagnostics_lower_triangle_with_nulls_above(client):
    flow = client.post("/api/v1/trace", json={}).json()["diagnostics"]["error_flow"]
    assert len(flow) == 6
    assert flow[0][1:] == [None] * 5
    assert all(value is not None for value in flow[5])


def test_post_train_returns_curves_params_and_predictions(client):
    response = client.post("/api/v1/train", json={"iterations": 30, "record_every": 10})
    assert response.status_code == 200
    result = response.json()
    assert result["iterations"] == [10, 20, 30]
    assert result["losses"][-1] < result["losses"][0]
    assert set(result["final_params"]) == {"W", "U", "b", "V", "b_y"}
    assert len(result["predictions"]) == 6
    assert isinstance(result["continuation"], str)
    assert result["trace"] is None
    assert result["non_finite"] is False


def test_post_train_of_a_series_forecasts_its_next_values_in_its_own_units(client):
    request = {"data": {"series": [2, 4, 6, 8, 10]}, "iterations": 200}
    result = client.post("/api/v1/train", json=request).json()
    assert len(result["forecast"]) == 20 and result["continuation"] is None
    assert result["forecast"][0] > 10  # the rising series goes on rising at first
    assert client.post("/api/v1/train", json={"iterations": 2}).json()["forecast"] is None


def test_post_trace_sends_jacobian_norms_only_when_asked_for(client):
    plain = client.post("/api/v1/trace", json={}).json()["diagnostics"]
    asked = client.post("/api/v1/trace", json={"jacobian_norms": True}).json()["diagnostics"]
    assert plain["jacobian_norms"] is None and plain["error_flow"] == asked["error_flow"]
    assert len(asked["jacobian_norms"]) == 6 and asked["jacobian_norms"][5][5] == 2.0


def test_post_trace_takes_K_from_explicit_params(client):
    data = {"inputs": [[1.0], [0.0], [1.0]], "targets": [0, 2, 1]}
    params = {"W": [[0.1]], "U": [[0.2]], "b": [0.0], "V": [[0.3]] * 5, "b_y": [0.0] * 5}
    response = client.post("/api/v1/trace", json={"data": data, "hidden_size": 1,
                                                  "params": params})
    assert response.status_code == 200
    assert response.json()["sizes"]["K"] == 5


def test_post_train_with_include_trace_returns_a_pass_from_trained_params(client):
    result = client.post("/api/v1/train", json={"iterations": 5, "include_trace": True}).json()
    assert result["trace"]["params"] == result["final_params"]
    assert result["trace"]["detail"] == "full"


def test_post_train_include_trace_starts_from_trained_params_not_rescaled_again(client):
    request = {"iterations": 3, "include_trace": True, "spectral_radius": 0.5}
    result = client.post("/api/v1/train", json=request).json()
    assert result["trace"]["params"]["W"] == result["final_params"]["W"]


def test_post_gradcheck_reports_every_parameter_within_tolerance(client):
    response = client.post("/api/v1/gradcheck", json={"cell": "gru", "hidden_size": 3})
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True
    assert set(result["max_rel_error"]) == {
        "W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_h", "V", "b_y"}
    assert max(result["max_rel_error"].values()) < result["tolerance"]


# Answers that are not JSON: the computations' own (the registry's), a room's event stream and
# its QR code
MEDIA_TYPES = {**{f"/api/v1/{path}": endpoint.media_type.split(";")[0]
                  for path, endpoint in COMPUTATIONS.items()},
               "/api/v1/rooms/{room}/events": "text/event-stream",
               "/api/v1/rooms/{room}/qr.svg": "image/svg+xml"}


def test_openapi_declares_a_response_schema_for_every_endpoint(client):
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        media = MEDIA_TYPES.get(path, "application/json")
        for method, operation in operations.items():
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert len(success) == 1, (path, method)
            if success[0] == "204":  # no content: nothing to declare
                continue
            content = operation["responses"][success[0]]["content"][media]
            assert content["schema"], (path, method)


def test_openapi_lists_every_endpoint_of_the_registry_with_its_method(client):
    document = client.get("/openapi.json").json()
    listed = {(path.removeprefix("/api/v1/"), method) for path, operations
              in document["paths"].items() for method in operations}
    declared = {(endpoint.path, "post" if isinstance(endpoint, Computation) else "get")
                for endpoint in ENDPOINTS}
    assert declared <= listed


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_every_post_endpoint_declares_400_413_422_503_and_504(client, path):
    operation = client.get("/openapi.json").json()["paths"][f"/api/v1/{path}"]["post"]
    assert {"400", "413", "422", "503", "504"} <= set(operation["responses"])
    assert operation["requestBody"]["required"] is True


def test_openapi_declares_400_413_and_422_on_every_post(client):
    document = client.get("/openapi.json").json()
    posts = {path: ops["post"] for path, ops in document["paths"].items()
             if "post" in ops and "requestBody" in ops["post"]}  # (POST /rooms takes none)
    assert {"/api/v1/rooms/{room}/answers"} <= set(posts)
    for path, operation in posts.items():
        assert {"400", "413", "422"} <= set(operation["responses"]), path


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_every_post_endpoint_answers_its_media_type(client, path):
    body = {"cell": "gru", "hidden_size": 2, "data": {"text": "hello"},
            **ENDPOINT_OPTIONS.get(path, {})}
    response = client.post(f"/api/v1/{path}", json=body)
    assert response.status_code == 200, response.text
    endpoint = COMPUTATIONS[path]
    assert response.headers["content-type"] == endpoint.media_type
    if endpoint.filename is not None:
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{endpoint.filename}"')


def test_openapi_request_schema_carries_the_server_limits(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    hidden = schemas["TraceApiRequest"]["properties"]["hidden_size"]
    assert hidden["maximum"] == 64 and hidden["minimum"] == 1
    assert schemas["TraceApiRequest"]["additionalProperties"] is False
    assert schemas["TextData"]["properties"]["text"]["maxLength"] == 201


def test_openapi_request_schema_is_generated_from_the_engine_dataclasses(client):
    from dataclasses import fields

    from bptt_studio.engine.request.fields import TraceRequest

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    properties = schemas["TraceRequest"]["properties"]
    assert list(properties) == [f.name for f in fields(TraceRequest)]
    assert properties["seed"]["description"] == TraceRequest.__dataclass_fields__[
        "seed"].metadata["description"]
