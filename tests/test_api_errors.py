"""Every bad request is a 4xx JSON body naming the field and saying what would be accepted.

The body is FastAPI's shape, {"detail": [{"loc": ["body", ...], "msg", "type"}]}, whether the
schema, the engine or the body parser refused the request.
"""

import json

import pytest

from bptt_studio.serving.limits import MAX_PARAM_NAMES


def only_error(response):
    detail = response.json()["detail"]
    assert len(detail) == 1, detail
    return detail[0]


def test_post_trace_rejects_hidden_size_over_limit(client):
    response = client.post("/api/v1/trace", json={"hidden_size": 65})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "hidden_size"]
    assert "less than or equal to 64" in error["msg"]
    assert "BPTT_MAX_HIDDEN_SIZE" in error["msg"]


def test_post_trace_rejects_k2_less_than_k1(client):
    response = client.post("/api/v1/trace", json={"truncation": {"k1": 3, "k2": 2}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "truncation", "k2"]
    assert "k2 must be >= k1" in error["msg"]


def test_post_trace_rejects_wrong_param_shape_naming_name_expected_and_given(client):
    params = {"W": [[0.0] * 3] * 3, "U": [[0.0] * 7] * 4, "b": [0.0] * 4,
              "V": [[0.0] * 4] * 7, "b_y": [0.0] * 7}
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "W"]
    assert "expected [4, 4]" in error["msg"] and "given [3, 3]" in error["msg"]


def machine_params() -> dict:
    """Explicit parameters of the default request (the "machine" preset, H = 4, D = K = 5)."""
    return {"W": [[0.1] * 4] * 4, "U": [[0.2] * 5] * 4, "b": [0.0] * 4,
            "V": [[0.3] * 4] * 5, "b_y": [0.0] * 5}


@pytest.mark.parametrize("entry", [None, True, False, "0.5", [0.5], {}],
                         ids=["null", "true", "false", "string", "list", "object"])
def test_post_trace_rejects_a_weight_that_is_not_a_number_naming_its_entry(client, entry):
    params = machine_params()
    params["W"] = [row[:] for row in params["W"]]
    params["W"][2][1] = entry
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "W", 2, 1]
    assert error["type"] == "float_type" and "valid number" in error["msg"]


def test_post_trace_rejects_a_bias_entry_that_is_not_a_number_naming_its_index(client):
    params = machine_params()
    params["b_y"] = [0.0, 0.0, 0.0, "x", 0.0]
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "params", "b_y", 3]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-1e999"])
def test_post_trace_rejects_a_non_finite_weight_naming_its_entry(client, token):
    params = machine_params()
    body = ('{"params": ' + json.dumps(params)).replace(
        '"U": [[0.2, 0.2, 0.2', '"U": [[0.2, 0.2, ' + token, 1) + "}"
    response = client.post("/api/v1/trace", content=body.encode(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "U", 0, 2]
    assert error["type"] == "finite_number"


def test_post_trace_rejects_a_weight_that_is_neither_vector_nor_matrix(client):
    params = {**machine_params(), "W": 0.1}
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "W"]
    assert "a list of numbers (a vector) or a list of rows of numbers" in error["msg"]


def test_post_trace_rejects_ragged_weight_rows_naming_the_parameter_and_its_shape(client):
    params = {**machine_params(), "W": [[0.1] * 4, [0.1] * 3, [0.1] * 4, [0.1] * 4]}
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "W"]
    assert "expected [4, 4]" in error["msg"] and "rows of different lengths" in error["msg"]


def test_post_trace_rejects_targets_shorter_than_inputs(client):
    data = {"inputs": [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "targets": [1, 0]}
    response = client.post("/api/v1/trace", json={"data": data})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "targets"]
    assert "shorter than inputs" in error["msg"] and "T = 3" in error["msg"]


def test_post_trace_rejects_class_id_outside_output_size(client):
    data = {"inputs": [[1.0], [0.0]], "targets": [0, 3]}
    response = client.post("/api/v1/trace", json={"data": data, "output_size": 2})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "targets", 1]
    assert "ids must be in 0..1" in error["msg"]


def test_post_trace_rejects_class_id_over_the_server_limit_before_allocating(client):
    data = {"inputs": [[1.0], [0.0]], "targets": [0, 10**12]}
    response = client.post("/api/v1/trace", json={"data": data})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "targets", 1]
    # the schema's maximum (the largest output size's last id), before the engine reads it
    assert "less than or equal to 127" in error["msg"] and "BPTT_MAX_INPUT_SIZE" in error["msg"]


def test_post_trace_rejects_text_of_fewer_than_two_characters(client):
    response = client.post("/api/v1/trace", json={"data": {"text": "a"}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "text"]
    assert "at least 2 characters" in error["msg"]


def test_post_trace_rejects_text_longer_than_the_sequence_limit(client):
    response = client.post("/api/v1/trace", json={"data": {"text": "ab" * 101}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "text"]
    assert "BPTT_MAX_SEQ_LEN" in error["msg"]


def test_post_trace_rejects_words_over_the_sequence_limit(client):
    words = " ".join(["ab"] * 250)
    response = client.post("/api/v1/trace", json={"data": {"words": words}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "words"]
    assert "249 steps" in error["msg"] and "at most 200" in error["msg"]


def test_post_trace_rejects_vocabulary_over_the_input_size_limit(client):
    words = " ".join(f"w{i}" for i in range(150))
    response = client.post("/api/v1/trace", json={"data": {"words": words}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "words"]
    assert "150 distinct words" in error["msg"] and "BPTT_MAX_INPUT_SIZE" in error["msg"]


@pytest.mark.parametrize("lr", [0, -0.1])
def test_post_trace_rejects_non_positive_learning_rate(client, lr):
    response = client.post("/api/v1/trace", json={"optimizer": {"name": "sgd", "lr": lr}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "optimizer", "lr"]
    assert "greater than 0" in error["msg"]


def test_post_trace_rejects_boolean_for_a_number(client):
    response = client.post("/api/v1/trace", json={"optimizer": {"lr": False}})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "optimizer", "lr"]


def test_post_trace_rejects_string_for_an_integer(client):
    response = client.post("/api/v1/trace", json={"hidden_size": "4"})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "hidden_size"]


def test_post_trace_rejects_unknown_field_listing_the_accepted_ones(client):
    response = client.post("/api/v1/trace", json={"hiden_size": 8})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "hiden_size"]
    assert error["type"] == "extra_forbidden"
    assert "hidden_size" in error["msg"]


def test_post_trace_rejects_unknown_field_inside_nested_object(client):
    response = client.post("/api/v1/trace", json={"optimizer": {"name": "adam", "beta1": 0.8}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "optimizer", "beta1"]
    assert "betas" in error["msg"]


def test_post_trace_rejects_data_of_no_known_shape(client):
    response = client.post("/api/v1/trace", json={"data": {"txt": "machine"}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data"]
    assert '{"text": "..."}' in error["msg"] and "txt" in error["msg"]


def test_post_trace_rejects_unknown_preset_naming_the_accepted_ones(client):
    response = client.post("/api/v1/trace", json={"data": {"preset": "nope"}})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "preset"]
    assert "machine" in error["msg"]


def test_post_trace_rejects_body_that_is_not_json_with_400(client):
    response = client.post("/api/v1/trace", content=b"{cell: rnn}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = only_error(response)
    assert error["loc"] == ["body"]
    assert error["type"] == "json_invalid"
    assert "line 1 column 2" in error["msg"]


def test_post_trace_rejects_body_without_json_content_type_with_400(client):
    response = client.post("/api/v1/trace", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "Content-Type: application/json" in only_error(response)["msg"]


def test_post_trace_rejects_empty_body_with_400(client):
    response = client.post("/api/v1/trace", content=b"",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "{}" in only_error(response)["msg"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_post_trace_rejects_non_finite_number_in_json_naming_where(client, token):
    body = b'{"data": {"series": [1, 2, ' + token.encode() + b", 4]}}"
    response = client.post("/api/v1/trace", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "data", "series", 2]
    assert token in error["msg"]
    assert error["type"] == "finite_number"


def test_post_trace_rejects_number_too_large_for_a_double(client):
    response = client.post("/api/v1/trace", content=b'{"optimizer": {"lr": 1e999}}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "optimizer", "lr"]


def test_post_trace_rejects_c0_for_a_cell_without_cell_state(client):
    response = client.post("/api/v1/trace", json={"cell": "gru", "c0": [0.0] * 4})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "c0"]


def test_post_train_rejects_iterations_over_limit(client):
    response = client.post("/api/v1/train", json={"iterations": 2001})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "iterations"]
    assert "BPTT_MAX_ITERATIONS" in error["msg"]


def test_post_train_rejects_too_much_work_saying_how_many_iterations_fit(client):
    request = {"iterations": 2000, "cell": "lstm", "hidden_size": 16,
               "data": {"series": list(range(101))}}
    response = client.post("/api/v1/train", json=request)
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "iterations"]
    assert "CPU-seconds" in error["msg"] and "BPTT_MAX_CPU_SECONDS" in error["msg"]
    assert 1 <= int(error["msg"].split("at most ")[1].split(" iterations")[0]) < 2000


def test_post_gradcheck_rejects_model_too_large_to_check(client):
    response = client.post("/api/v1/gradcheck", json={"cell": "lstm", "hidden_size": 64})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "hidden_size"]
    assert "hidden_size at most" in error["msg"] and "BPTT_MAX_CPU_SECONDS" in error["msg"]


def test_post_gradcheck_rejects_the_trace_only_detail_field(client):
    response = client.post("/api/v1/gradcheck", json={"detail": "norms"})
    assert response.status_code == 422
    assert only_error(response)["type"] == "extra_forbidden"


def test_error_response_does_not_echo_the_input(client):
    response = client.post("/api/v1/trace", json={"data": {"text": "x"}})
    assert "input" not in only_error(response)


def test_post_trace_rejects_overlapping_windows_that_cost_too_much_naming_k2(client):
    request = {"cell": "gru", "hidden_size": 16, "data": {"series": list(range(201))},
               "truncation": {"k1": 1, "k2": 200}}
    response = client.post("/api/v1/trace", json=request)
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "truncation", "k2"]
    assert "truncation k2 at most" in error["msg"] and "BPTT_MAX_" in error["msg"]


def test_post_trace_rejects_params_with_more_output_rows_than_the_server_takes(client):
    data = {"inputs": [[1.0], [0.0]], "targets": [0, 1]}
    params = {"W": [[0.1]], "U": [[0.2]], "b": [0.0], "V": [[0.3]] * 129, "b_y": [0.0] * 129}
    response = client.post("/api/v1/trace", json={"data": data, "hidden_size": 1,
                                                  "params": params})
    assert response.status_code == 422
    # refused by the schema, before any work: every array over the limit, by name
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", "params", "V"], ["body", "params", "b_y"]]
    for error in errors:
        assert "129" in error["msg"] and "BPTT_MAX_INPUT_SIZE" in error["msg"]


def test_post_trace_rejects_a_weight_row_longer_than_the_server_takes(client):
    params = {**machine_params(), "U": [[0.2] * 129] + [[0.2] * 5] * 3}
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params", "U", 0]
    assert "at most 128 items" in error["msg"] and "BPTT_MAX_INPUT_SIZE" in error["msg"]


def test_post_trace_rejects_more_parameters_than_any_cell_has(client):
    params = {f"P{i}": [0.0] for i in range(MAX_PARAM_NAMES + 1)}  # the deepest stack's + 1
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params"] and f"at most {MAX_PARAM_NAMES}" in error["msg"]


def test_post_trace_rejects_parameters_holding_more_numbers_than_a_one_layer_network(client):
    row = [0.0] * 128
    # 30 names (of the 98 a stack may have), 64 x 128 each: under the body's byte limit
    params = {f"P{i}": [row] * 64 for i in range(30)}
    response = client.post("/api/v1/trace", json={"params": params})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "params"] and f"hold {30 * 64 * 128}" in error["msg"]


def test_post_trace_rejects_h0_longer_than_the_largest_hidden_size(client):
    response = client.post("/api/v1/trace", json={"h0": [0.0] * 65})
    assert response.status_code == 422
    error = only_error(response)
    assert error["loc"] == ["body", "h0"] and "BPTT_MAX_HIDDEN_SIZE" in error["msg"]


def test_post_trace_rejects_jacobian_norms_without_diagnostics(client):
    response = client.post("/api/v1/trace", json={"diagnostics": False,
                                                  "jacobian_norms": True})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "jacobian_norms"]


def test_post_trace_rejects_a_beta_of_one_naming_it(client):
    response = client.post("/api/v1/trace", json={"optimizer": {"name": "adam",
                                                                "betas": [0.9, 1.0]}})
    assert response.status_code == 422
    assert only_error(response)["loc"] == ["body", "optimizer", "betas", 1]
