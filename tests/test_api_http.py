"""JSON on the wire: valid even after overflow, byte-identical on repeat, gzip, body limit, CORS."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bptt_studio.core import jsonio
from bptt_studio.core.settings import Settings, get_settings
from bptt_studio.main import create_app

# H = 8 ReLU units with W scaled to spectral radius 50 over 200 steps: h grows like 50^t and
# overflows float64 long before the end.
EXPLODING = {"activation": "relu", "hidden_size": 8, "spectral_radius": 50,
             "data": {"series": [float(t % 7) for t in range(201)]}}


def strict_json(text):
    """json.loads that refuses NaN and Infinity, as a strict client would."""
    def refuse(token):
        raise ValueError(f"non-JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def test_orjson_writes_nan_and_infinity_as_null_in_floats_and_numpy_arrays():
    value = {"f": float("nan"), "g": -np.inf, "a": np.array([[1.0, np.nan], [np.inf, 2.0]]),
             "s": np.float64("inf")}
    assert jsonio.dumps(value) == b'{"f":null,"g":null,"a":[[1.0,null],[null,2.0]],"s":null}'


def test_dumps_forms_lazy_mappings_and_non_contiguous_arrays():
    from collections.abc import Mapping

    class Lazy(Mapping):
        def __getitem__(self, key):
            return np.arange(4.0)[::2]

        def __iter__(self):
            return iter(["W"])

        def __len__(self):
            return 1

    assert jsonio.dumps({"contrib": Lazy()}) == b'{"contrib":{"W":[0.0,2.0]}}'


def test_post_trace_overflow_gives_valid_json_with_nulls_and_non_finite_true(client):
    response = client.post("/api/v1/trace", json=EXPLODING)
    assert response.status_code == 200
    result = strict_json(response.text)
    assert result["non_finite"] is True
    assert result["loss"] is None
    last_forward = [e for e in result["events"] if e["kind"] == "forward"][-1]
    assert last_forward["loss"] is None  # 1/2 (o - y)^2 of an o near 1e272


def test_post_trace_overflow_in_norms_detail_is_valid_json_too(client):
    response = client.post("/api/v1/trace", json={**EXPLODING, "detail": "norms"})
    assert response.status_code == 200
    assert strict_json(response.text)["non_finite"] is True


def test_post_trace_flags_overflow_of_a_pre_activation_whose_state_stays_finite(client):
    # W h(1) overflows to -inf in a(2) while h(2) = tanh(a(2)) = -1 stays finite.
    params = {"W": [[1.5e308, 1.5e308], [1.5e308, 1.5e308]], "U": [[1.0], [1.0]], "b": [0.0, 0.0],
              "V": [[1.0, 1.0]], "b_y": [0.0]}
    request = {"hidden_size": 2, "params": params, "diagnostics": False,
               "data": {"series": [1.0, 2.0, 3.0]}}
    response = client.post("/api/v1/trace", json=request)
    assert response.status_code == 200
    result = strict_json(response.text)
    forward = [e for e in result["events"] if e["kind"] == "forward"]
    assert forward[1]["a"] == [None, None] and forward[1]["h"] == [-1.0, -1.0]
    assert result["non_finite"] is True


def test_post_train_that_diverges_returns_nulls_and_no_trace(client):
    request = {**EXPLODING, "iterations": 2, "include_trace": True}
    response = client.post("/api/v1/train", json=request)
    assert response.status_code == 200
    result = strict_json(response.text)
    assert result["non_finite"] is True
    assert result["trace"] is None


def test_post_trace_twice_gives_byte_identical_responses(client):
    request = {"cell": "gru", "hidden_size": 5, "data": {"words": "a b a c a b"},
               "truncation": {"k1": 2, "k2": 3}, "optimizer": {"name": "adam", "lr": 0.01}}
    first = client.post("/api/v1/trace", json=request)
    second = client.post("/api/v1/trace", json=request)
    assert first.status_code == 200
    assert first.content == second.content


def test_post_train_twice_gives_byte_identical_responses(client):
    request = {"iterations": 20, "include_trace": True}
    assert (client.post("/api/v1/train", json=request).content
            == client.post("/api/v1/train", json=request).content)


def test_post_trace_is_gzipped_when_the_client_accepts_it(client):
    response = client.post("/api/v1/trace", json={}, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 2


def test_post_trace_is_plain_when_the_client_does_not_accept_gzip(client):
    response = client.post("/api/v1/trace", json={}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers


def test_post_trace_rejects_body_over_limit_by_content_length_with_413(client):
    body = b'{"data": {"text": "' + b"a" * get_settings().max_body_bytes + b'"}}'
    response = client.post("/api/v1/trace", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.json()["detail"][0]
    assert error["loc"] == ["body"]
    assert "BPTT_MAX_BODY_BYTES" in error["msg"]


def test_post_trace_rejects_streamed_body_over_limit_with_413(client):
    def chunks():
        yield b'{"data": {"text": "'
        for _ in range(get_settings().max_body_bytes // 65_536 + 1):
            yield b"a" * 65_536
        yield b'"}}'

    response = client.post("/api/v1/trace", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def largest_explicit_lstm_body() -> bytes:
    """The largest request the other limits allow, with every number explicit: the LSTM at
    H = 64, D = K = 128 (57,728 parameters), h0, c0 and 200 steps of real-valued inputs and
    targets, every number a full-precision float64 (109,184 numbers), as compact JSON."""
    from bptt_studio.engine.request.params import init_params

    rng = np.random.default_rng(7)
    params = {k: v.tolist() for k, v in init_params("lstm", 64, 128, 128, seed=7).items()}
    request = {"cell": "lstm", "hidden_size": 64, "params": params, "loss": "mse",
               "h0": rng.normal(size=64).tolist(), "c0": rng.normal(size=64).tolist(),
               "data": {"inputs": rng.normal(size=(200, 128)).tolist(),
                        "targets": rng.normal(size=(200, 128)).tolist()}}
    return json.dumps(request, separators=(",", ":")).encode()


def test_the_largest_explicit_lstm_request_is_accepted(client):
    body = largest_explicit_lstm_body()
    assert 2_000_000 < len(body) <= get_settings().max_body_bytes  # twice the former 1 MB
    response = client.post("/api/v1/params", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["params"] == json.loads(body)["params"]
    trace = client.post("/api/v1/trace", headers={"Content-Type": "application/json"},
                        content=body[:-1] + b',"diagnostics":false,"detail":"norms"}')
    assert trace.status_code == 200
    assert trace.json()["sizes"] == {"T": 200, "D": 128, "H": 64, "K": 128}


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413(client, streamed):
    limit = get_settings().max_body_bytes
    body = largest_explicit_lstm_body()
    exact = body + b" " * (limit - len(body))  # JSON allows trailing white space

    def send(content: bytes):
        sent = (content[i:i + 65_536] for i in range(0, len(content), 65_536))
        return client.post("/api/v1/params", content=sent if streamed else content,
                           headers={"Content-Type": "application/json"})

    assert len(exact) == limit and send(exact).status_code == 200
    over = send(exact + b" ")
    assert over.status_code == 413
    assert over.json()["detail"][0]["type"] == "body_too_large"


def test_streamed_body_under_the_limit_reaches_the_handler(client):
    def chunks():
        yield b'{"data": '
        yield b'{"text": "hello"}}'

    response = client.post("/api/v1/trace", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["sizes"]["T"] == 4


def test_error_responses_carry_the_security_headers(client):
    response = client.post("/api/v1/trace", content=b"x" * (get_settings().max_body_bytes + 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_cors_is_off_by_default(client):
    response = client.post("/api/v1/trace", json={},
                           headers={"Origin": "https://course.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def cors_client(monkeypatch):
    monkeypatch.setenv("BPTT_CORS_ORIGINS", "https://course.example, https://other.example")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            yield client
    finally:
        monkeypatch.delenv("BPTT_CORS_ORIGINS")
        get_settings.cache_clear()


def test_cors_allows_the_origins_listed_in_the_environment(cors_client):
    response = cors_client.post("/api/v1/trace", json={},
                                headers={"Origin": "https://course.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://course.example"


def test_cors_preflight_is_answered_for_a_listed_origin(cors_client):
    response = cors_client.options("/api/v1/trace", headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://other.example"


def test_cors_ignores_an_origin_not_listed(cors_client):
    response = cors_client.post("/api/v1/trace", json={},
                                headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPTT_MAX_HIDDEN_SIZE", "8")
    assert Settings().max_hidden_size == 8
    with TestClient(create_app(Settings())) as client:
        response = client.post("/api/v1/trace", json={"hidden_size": 9})
    assert response.status_code == 422
    assert "less than or equal to 8" in response.json()["detail"][0]["msg"]


# ---------------------------------------------------------------------------------------------
# No 500 from any input; and where a 500 happens anyway, JSON without the traceback.


def nested(depth):
    return "[" * depth + "]" * depth


def test_params_nested_500_deep_in_a_1_kb_body_is_a_422_naming_the_field(client):
    body = '{"params": {"W": ' + nested(500) + "}}"
    assert len(body) < 1100
    response = client.post("/api/v1/trace", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["type"] == "too_deep"
    assert error["loc"][:4] == ["body", "params", "W", 0]
    assert "16 levels" in error["msg"]


def test_json_nested_deeper_than_the_parser_allows_is_a_422_too(client):
    response = client.post("/api/v1/trace", content=nested(5000),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_deep"


def test_a_deep_body_holding_a_nan_is_a_422_not_a_recursion(client):
    body = '{"params": {"W": ' + "[" * 900 + "NaN" + "]" * 900 + "}}"
    response = client.post("/api/v1/trace", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_deep"


def test_the_deepest_real_request_passes_the_depth_bound(client):
    params = {"W": [[0.1] * 2] * 2, "U": [[0.1]] * 2, "b": [0.0] * 2, "V": [[0.1] * 2],
              "b_y": [0.0]}
    response = client.post("/api/v1/trace", json={
        "hidden_size": 2, "params": params, "data": {"inputs": [[1.0], [0.5]],
                                                     "targets": [[0.5], [1.0]]}})
    assert response.status_code == 200


def test_an_unexpected_exception_is_a_json_500_with_the_security_headers_and_no_traceback():
    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("a secret detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.json()["detail"][0]["type"] == "internal_error"
    assert "secret" not in response.text and "Traceback" not in response.text


# ---------------------------------------------------------------------------------------------
# The page's URLs never come from the Host header.


def test_the_page_asset_urls_are_paths_whatever_host_the_client_names(client):
    page = client.get("/", headers={"Host": "evil.example"}).text
    assert "evil.example" not in page
    assert 'src="/static/js/main.js"' in page
    assert 'href="/static/css/studio.css"' in page


def test_the_page_asset_urls_keep_the_root_path_of_a_proxy_prefix():
    with TestClient(create_app(), root_path="/bptt") as client:
        page = client.get("/bptt/").text
    assert 'src="/bptt/static/js/main.js"' in page
