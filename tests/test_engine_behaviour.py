"""The engine as the design card and the contract describe it: schedule, data, presets,
initialisation, clipping, optimizers, diagnostics, training, errors."""

from __future__ import annotations

import numpy as np
import pytest

from bptt_studio.engine import (
    PRESETS,
    RequestError,
    gradcheck,
    list_presets,
    plan,
    run_trace,
    train,
)
from bptt_studio.engine.request.params import spectral_radius
from tests.engine_helpers import small_request


def _kinds(result):
    return [(e["kind"], e["t"]) for e in result["events"]]


# --- the schedule -------------------------------------------------------------------------

def test_full_bptt_plays_forward_1_to_T_then_backward_T_to_1_then_one_update():
    result = run_trace({"data": {"text": "machine"}})
    T = 6
    assert _kinds(result) == ([("forward", t) for t in range(1, T + 1)]
                              + [("backward", t) for t in range(T, 0, -1)] + [("update", T)])
    assert [u["window"] for u in result["updates"]] == [[1, T]]


def test_bptt_k1_k2_updates_every_k1_steps_and_looks_back_k2():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 2, "k2": 3}})
    assert [u["window"] for u in result["updates"]] == [[1, 2], [2, 4], [4, 6]]
    assert _kinds(result)[:7] == [("forward", 1), ("forward", 2), ("backward", 2),
                                  ("backward", 1), ("update", 2), ("forward", 3),
                                  ("forward", 4)]


def test_online_bptt_h_updates_at_every_step():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 1, "k2": 3}})
    assert [u["window"] for u in result["updates"]] == [[1, 1], [1, 2], [1, 3], [2, 4],
                                                        [3, 5], [4, 6]]


def test_chunking_with_a_shorter_last_chunk_still_looks_back_k2():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 4, "k2": 4}})
    assert [u["window"] for u in result["updates"]] == [[1, 4], [3, 6]]


def test_k2_defaults_to_k1():
    planned = plan({"truncation": {"k1": 3}})
    assert planned.request.truncation.k2 == 3 and planned.k2 == 3


def test_k2_smaller_than_k1_is_rejected_naming_k2():
    with pytest.raises(RequestError) as error:
        run_trace({"truncation": {"k1": 3, "k2": 2}})
    assert error.value.loc == ("truncation", "k2")
    assert "k2 must be >= k1" in error.value.msg


def test_forward_steps_use_the_parameters_current_at_their_time():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 1, "k2": 2}})
    forward = [e for e in result["events"] if e["kind"] == "forward"]
    assert [e["version"] for e in forward] == [0, 1, 2, 3, 4, 5]
    W1 = result["updates"][0]["params_after"]["W"]
    h1, x2 = forward[0]["h"], forward[1]["x"]
    U, b = result["updates"][0]["params_after"]["U"], result["updates"][0]["params_after"]["b"]
    np.testing.assert_allclose(forward[1]["a"], W1 @ h1 + U @ x2 + b)


def test_loss_is_the_sum_of_injected_window_losses():
    result = run_trace({"data": {"text": "machine"}, "reduction": "mean",
                        "truncation": {"k1": 2}})
    steps = result["step_losses"]
    expected = sum(np.mean(steps[i:i + 2]) for i in range(0, 6, 2))
    assert result["loss"] == pytest.approx(expected, rel=1e-12)


def test_loss_at_last_injects_only_the_last_step():
    result = run_trace({"data": {"text": "machine"}, "loss_at": "last"})
    assert result["loss_steps"] == [6]
    assert result["loss"] == pytest.approx(result["step_losses"][-1])
    forward = [e for e in result["events"] if e["kind"] == "forward"]
    assert [e["loss_injected"] for e in forward] == [False] * 5 + [True]


# --- the trace's contents ------------------------------------------------------------------

def test_forward_event_records_every_intermediate_of_the_rnn():
    result = run_trace({"data": {"text": "machine"}})
    event = result["events"][0]
    p = result["params"]
    np.testing.assert_allclose(event["a"], p["W"] @ event["h_prev"] + p["U"] @ event["x"]
                               + p["b"])
    np.testing.assert_allclose(event["h"], np.tanh(event["a"]))
    np.testing.assert_allclose(event["o"], p["V"] @ event["h"] + p["b_y"])
    assert event["yhat"].sum() == pytest.approx(1.0)
    assert event["loss"] == pytest.approx(-np.log(event["yhat"][event["target"]]))


def test_lstm_forward_event_records_every_gate_and_the_cell_state():
    result = run_trace({"cell": "lstm", "data": {"text": "machine"}})
    event = result["events"][1]
    gates = event["gates"]
    assert set(gates) == {"f", "i", "g", "o"} and set(event["a"]) == {"f", "i", "g", "o"}
    np.testing.assert_allclose(event["c"], gates["f"] * event["c_prev"] + gates["i"] * gates["g"])
    np.testing.assert_allclose(event["h"], gates["o"] * np.tanh(event["c"]))


def test_gru_forward_event_applies_reset_before_the_recurrent_product():
    result = run_trace({"cell": "gru", "data": {"text": "machine"}})
    event, p = result["events"][2], result["params"]
    r, z, n = event["gates"]["r"], event["gates"]["z"], event["gates"]["n"]
    np.testing.assert_allclose(event["a"]["n"], p["W_h"] @ (r * event["h_prev"])
                               + p["U_h"] @ event["x"] + p["b_h"])
    np.testing.assert_allclose(event["h"], z * event["h_prev"] + (1 - z) * n)


def test_rnn_backward_event_follows_the_delta_recursion():
    result = run_trace({"data": {"text": "machine"}})
    back = {e["t"]: e for e in result["events"] if e["kind"] == "backward"}
    p = result["params"]
    for t in range(1, 6):
        np.testing.assert_allclose(back[t]["dh_out"], p["V"].T @ back[t]["g_o"])
        np.testing.assert_allclose(back[t]["dh_next"], p["W"].T @ back[t + 1]["delta"])
        h = [e for e in result["events"] if e["kind"] == "forward" and e["t"] == t][0]["h"]
        np.testing.assert_allclose(back[t]["delta"], (1 - h ** 2) * back[t]["dh"])
        forward = _forward(result, t)
        np.testing.assert_allclose(back[t]["contrib"]["W"],
                                   np.outer(back[t]["delta"], forward["h_prev"]))
        np.testing.assert_allclose(back[t]["contrib"]["U"], np.outer(back[t]["delta"],
                                                                     forward["x"]))
        np.testing.assert_allclose(back[t]["dx"], p["U"].T @ back[t]["delta"])


def _forward(result, t):
    return [e for e in result["events"] if e["kind"] == "forward" and e["t"] == t][0]


def test_lstm_cell_error_carries_dc_of_the_next_step_through_its_forget_gate():
    result = run_trace({"cell": "lstm", "data": {"text": "machine"}})
    back = {e["t"]: e for e in result["events"] if e["kind"] == "backward"}
    for t in range(1, 6):
        f_next = _forward(result, t + 1)["gates"]["f"]
        np.testing.assert_allclose(back[t]["dc_next"], back[t + 1]["dc"] * f_next)


def test_lstm_cell_error_is_the_sum_of_what_reaches_it_through_h_and_from_the_next_step():
    result = run_trace({"cell": "lstm", "data": {"text": "machine"}})
    for ev in (e for e in result["events"] if e["kind"] == "backward"):
        forward = _forward(result, ev["t"])
        through_h = np.asarray(ev["dh"]) * forward["gates"]["o"] * (1 - np.tanh(forward["c"]) ** 2)
        np.testing.assert_allclose(ev["dc_from_h"], through_h)
        np.testing.assert_array_equal(np.asarray(ev["dc_from_h"]) + ev["dc_next"], ev["dc"])


def test_update_records_raw_and_clipped_gradients_and_parameters_before_and_after():
    result = run_trace({"data": {"text": "machine"}, "clip": {"mode": "norm", "max": 0.5}})
    update = result["updates"][0]
    norm = np.sqrt(sum(np.sum(g ** 2) for g in update["grads"].values()))
    assert update["grad_norm"] == pytest.approx(norm)
    assert update["clip_coef"] == pytest.approx(0.5 / (norm + 1e-6))
    clipped_norm = np.sqrt(sum(np.sum(g ** 2) for g in update["clipped_grads"].values()))
    assert clipped_norm == pytest.approx(0.5, rel=1e-5)
    for name, before in update["params_before"].items():
        np.testing.assert_allclose(update["params_after"][name],
                                   before - 0.1 * update["clipped_grads"][name])


def test_clipping_by_norm_leaves_small_gradients_alone():
    update = run_trace({"data": {"text": "machine"}, "clip": {"mode": "norm", "max": 1e6}})[
        "updates"][0]
    assert update["clip_coef"] == 1.0 and update["clipped"] is False


def test_clipping_by_value_clamps_every_entry():
    update = run_trace({"data": {"text": "machine"}, "clip": {"mode": "value", "max": 0.01}})[
        "updates"][0]
    for name, grad in update["grads"].items():
        np.testing.assert_array_equal(update["clipped_grads"][name], np.clip(grad, -0.01, 0.01))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_clipping_by_value_counts_the_entries_it_clamps(cell):
    result = run_trace({"cell": cell, "data": {"text": "machine"}, "truncation": {"k1": 2},
                        "clip": {"mode": "value", "max": 0.02}})
    for update in result["updates"]:
        beyond = sum(int(np.sum(np.abs(g) > 0.02)) for g in update["grads"].values())
        changed = sum(int(np.sum(update["clipped_grads"][name] != g))
                      for name, g in update["grads"].items())
        assert update["clipped_entries"] == beyond == changed
        assert update["clipped"] is (beyond > 0)
    assert any(u["clipped_entries"] > 0 for u in result["updates"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_clipping_by_norm_counts_every_entry_it_scales(cell):
    update = run_trace({"cell": cell, "data": {"text": "machine"},
                        "clip": {"mode": "norm", "max": 0.01}})["updates"][0]
    assert update["clip_coef"] < 1
    assert update["clipped_entries"] == sum(int(np.count_nonzero(g))
                                            for g in update["grads"].values())


@pytest.mark.parametrize("clip", [None, {"mode": "norm", "max": 1e6},
                                  {"mode": "value", "max": 1e6}])
def test_clipping_that_changes_nothing_counts_no_entry(clip):
    update = run_trace({"data": {"text": "machine"}, "clip": clip})["updates"][0]
    assert update["clipped_entries"] == 0 and update["clipped"] is False


# --- the spectral radius of the weights in use -------------------------------------------------

def _recurrent(params):
    return {name: value for name, value in params.items()
            if name.startswith("W") and value.shape[0] == value.shape[1]}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_spectral_radii_are_each_recurrent_matrix_largest_eigenvalue_in_every_version(cell):
    result = run_trace({"cell": cell, "data": {"text": "machine"}, "truncation": {"k1": 2},
                        "optimizer": {"name": "sgd", "lr": 1.0}, "spectral_radii": True})
    versions = [(result["spectral_radii"], result["params"])] + [
        (u["spectral_radii_after"], u["params_after"]) for u in result["updates"]]
    for radii, params in versions:
        matrices = _recurrent(params)
        assert set(radii) == set(matrices) and matrices
        for name, matrix in matrices.items():
            assert radii[name] == pytest.approx(np.abs(np.linalg.eigvals(matrix)).max())
    assert versions[0][0] != versions[-1][0]  # training moved them


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_spectral_radii_of_rescaled_weights_are_the_radius_asked_for(cell):
    radii = run_trace({"cell": cell, "spectral_radius": 1.7,
                       "spectral_radii": True})["spectral_radii"]
    assert radii and all(r == pytest.approx(1.7) for r in radii.values())


def test_spectral_radii_are_null_unless_asked_for():
    result = run_trace({"data": {"text": "machine"}, "truncation": {"k1": 3}})
    assert result["spectral_radii"] is None
    assert all(u["spectral_radii_after"] is None for u in result["updates"])


def test_spectral_radius_of_an_overflowed_matrix_is_null():
    radii = run_trace({"activation": "relu", "spectral_radius": 1e300, "spectral_radii": True,
                       "truncation": {"k1": 2}, "optimizer": {"name": "sgd", "lr": 1e300}})
    assert radii["non_finite"] is True
    assert None in [u["spectral_radii_after"]["W"] for u in radii["updates"]]


def test_optimizer_defaults_are_torchs():
    config = run_trace({"optimizer": {"name": "adam", "lr": 0.01}})["config"]["optimizer"]
    assert config["betas"] == [0.9, 0.999] and config["eps"] == 1e-8
    config = run_trace({"optimizer": {"name": "adagrad", "lr": 0.01}})["config"]["optimizer"]
    assert config["eps"] == 1e-10
    assert run_trace({})["config"]["optimizer"]["momentum"] == 0.9


def test_config_is_the_request_with_every_default_filled_in():
    config = run_trace({})["config"]
    assert config["cell"] == "rnn" and config["hidden_size"] == 4
    assert config["activation"] == "tanh" and config["loss"] == "cross_entropy"
    assert config["loss_at"] == "every" and config["reduction"] == "sum"
    assert config["truncation"] is None and config["clip"] is None
    assert config["optimizer"]["name"] == "sgd" and config["optimizer"]["lr"] == 0.1
    assert config["data"] == {"preset": "machine"} and config["seed"] == 0
    assert config["output_size"] == 7  # the vocabulary of "machine"


# --- data and presets ----------------------------------------------------------------------

def test_text_is_encoded_one_hot_with_the_next_character_as_target():
    result = run_trace({"data": {"text": "machine"}})
    vocab = result["vocab"]
    assert vocab == sorted(set("machine"))
    assert "".join(vocab[int(np.argmax(x))] for x in result["inputs"]) == "machin"
    assert "".join(vocab[t] for t in result["targets"]) == "achine"


def test_words_are_split_on_white_space():
    result = run_trace({"data": {"preset": "sentence"}})
    assert "água" in result["vocab"] and len(result["targets"]) == 9


def test_series_is_z_scored_and_its_scale_reported():
    result = run_trace({"data": {"series": [2, 4, 6, 8, 10]}})
    assert result["scale"] == {"mean": 6.0, "std": pytest.approx(np.std([2, 4, 6, 8, 10]))}
    assert result["config"]["loss"] == "mse"
    restored = result["targets"][:, 0] * result["scale"]["std"] + result["scale"]["mean"]
    np.testing.assert_allclose(restored, [4, 6, 8, 10])


def test_every_preset_has_an_id_title_description_and_runs():
    listed = list_presets()
    assert {p["id"] for p in listed} == {"machine", "series", "sentence", "sine", "long_range",
                                        "exploding"}
    for preset in listed:
        assert preset["title"] and preset["description"]
        assert run_trace(preset["request"])["loss"] > 0


def test_default_request_is_the_machine_preset():
    assert run_trace({})["vocab"] == run_trace({"data": {"preset": "machine"}})["vocab"]


def test_long_range_gradient_vanishes_in_the_rnn_and_not_in_the_lstm():
    def reach(cell):
        row = run_trace({"data": {"preset": "long_range"}, "cell": cell})["diagnostics"][
            "error_flow"][-1]
        return row[0] / row[-1]  # how much of L(T)'s error reaches h(1)

    assert PRESETS["long_range"].settings["loss_at"] == "last"
    assert reach("rnn") < 1e-3
    assert reach("lstm") > 30 * reach("rnn")


# --- initialisation ------------------------------------------------------------------------

def test_seeded_parameters_are_uniform_within_one_over_sqrt_h():
    params = run_trace({"hidden_size": 9, "seed": 5})["params"]
    for value in params.values():
        assert np.all(np.abs(value) <= 1 / 3)
    again = run_trace({"hidden_size": 9, "seed": 5})["params"]
    other = run_trace({"hidden_size": 9, "seed": 6})["params"]
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert not np.array_equal(params["W"], other["W"])


def test_spectral_radius_rescales_every_recurrent_matrix():
    params = run_trace({"cell": "lstm", "spectral_radius": 1.5})["params"]
    for name in ("W_f", "W_i", "W_g", "W_o"):
        assert spectral_radius(params[name]) == pytest.approx(1.5)


def test_explicit_params_and_initial_state_are_used_as_given():
    request = small_request("lstm")
    base = run_trace(request)
    given = {k: v.tolist() for k, v in base["params"].items()}
    result = run_trace({**request, "params": given, "seed": 999})
    assert result["loss"] == base["loss"]
    np.testing.assert_array_equal(result["events"][0]["h_prev"], request["h0"])
    np.testing.assert_array_equal(result["events"][0]["c_prev"], request["c0"])


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("request_", "loc", "words"), [
    ({"hidden_sise": 4}, ("hidden_sise",), "unknown field"),
    ({"cell": "transformer"}, ("cell",), "'rnn'"),
    ({"optimizer": {"name": "sgd", "lr": 0}}, ("optimizer", "lr"), "> 0"),
    ({"data": {"text": "a"}}, ("data", "text"), "at least 2"),
    ({"data": {"inputs": [[1.0], [0.0]], "targets": [0]}}, ("data", "targets"), "shorter"),
    ({"data": {"inputs": [[1.0], [0.0]], "targets": [0, 5]}, "output_size": 2},
     ("data", "targets", 1), "outside the output size"),
    ({"params": {"W": [[1.0]]}}, ("params", "U"), "missing"),
    ({"hidden_size": 0}, ("hidden_size",), ">= 1"),
    ({"seed": True}, ("seed",), "integer"),
    ({"optimizer": {"name": "sgd", "lr": float("nan")}}, ("optimizer", "lr"), "finite"),
    ({"data": {"series": [3, 3, 3]}}, ("data", "series"), "constant"),
    ({"c0": [0.0] * 4}, ("c0",), "only the LSTM"),
    ({"h0": [0.0] * 3}, ("h0",), "expected [4]"),
])
def test_bad_requests_raise_an_error_naming_the_field(request_, loc, words):
    with pytest.raises(RequestError) as error:
        run_trace(request_)
    assert error.value.loc == loc
    assert words in error.value.msg


def test_a_parameter_of_the_wrong_shape_names_expected_and_given_shape():
    params = {k: v.tolist() for k, v in run_trace({})["params"].items()}
    params["W"] = [[0.0] * 3] * 4
    with pytest.raises(RequestError) as error:
        run_trace({"params": params})
    assert error.value.loc == ("params", "W")
    assert "expected [4, 4]" in error.value.msg and "given [4, 3]" in error.value.msg


# --- overflow, gradient check, training ----------------------------------------------------

def test_exploding_gradients_are_flagged_never_raised():
    series = list(np.sin(np.arange(150)).round(3))
    result = run_trace({"activation": "relu", "spectral_radius": 50.0, "hidden_size": 8,
                        "data": {"series": series}})
    assert result["non_finite"] is True
    assert not np.isfinite(result["loss"])


def test_overflowed_pre_activation_is_flagged_even_when_tanh_saturates():
    params = {k: v.tolist() for k, v in run_trace({})["params"].items()}
    params["U"] = [[1e308] * 7] * 4  # a(1) = U x(1) + b overflows; h(1) = tanh(a) stays 1
    params["b"] = [1e308] * 4
    result = run_trace({"params": params})
    assert not np.all(np.isfinite(result["events"][0]["a"]))
    assert result["non_finite"] is True


def test_series_too_large_to_scale_is_rejected():
    with pytest.raises(RequestError) as error:
        run_trace({"data": {"series": [1e308, -1e308, 1e308]}})
    assert error.value.loc == ("data", "series")


def test_finite_run_is_not_flagged():
    assert run_trace({})["non_finite"] is False


def test_gradcheck_reports_agreement_for_every_parameter():
    report = gradcheck({"cell": "gru", "truncation": {"k1": 2, "k2": 3}})
    assert set(report["max_rel_error"]) == set(run_trace({"cell": "gru"})["params"])
    assert report["ok"] is True and max(report["max_rel_error"].values()) < 1e-5


def test_gradcheck_error_is_measured_against_the_gradients_own_scale():
    from bptt_studio.engine.tasks.gradcheck import relative_error

    analytic = np.array([[0.5, -0.2], [1e-9, 0.0]])
    assert relative_error(analytic, analytic + 1e-11) < 1e-10  # rounding noise: agreement
    wrong = analytic.copy()
    wrong[0, 1] = -0.19  # one entry 5 % off
    assert relative_error(analytic, wrong) == pytest.approx(0.02)
    tiny = np.full(3, 1e-7)  # a gradient that is tiny everywhere is judged on absolute error
    assert relative_error(tiny, 2 * tiny) == pytest.approx(1e-3)


def test_gradcheck_refuses_models_too_large_to_check():
    with pytest.raises(RequestError) as error:
        gradcheck({"hidden_size": 64, "data": {"text": "abcdefghij" * 8}})
    assert "too large" in error.value.msg


def test_training_machine_reaches_achine_with_the_preset_defaults():
    result = train({"data": {"preset": "machine"}}, iterations=300, record_every=50)
    assert "".join(result["predictions"]) == "achine"
    assert result["losses"][-1] < result["losses"][0]
    assert result["iterations"] == [50, 100, 150, 200, 250, 300]
    assert result["continuation"].startswith("a")


def test_trace_after_training_is_not_rescaled_to_the_spectral_radius_again():
    result = train({"spectral_radius": 0.5}, iterations=20, include_trace=True)
    np.testing.assert_array_equal(result["trace"]["params"]["W"], result["final_params"]["W"])
    assert spectral_radius(result["final_params"]["W"]) != pytest.approx(0.5)


def test_diverged_training_flags_non_finite_and_returns_no_trace():
    result = train({"activation": "relu", "spectral_radius": 50.0, "hidden_size": 8,
                    "data": {"series": list(np.sin(np.arange(150)).round(3))},
                    "optimizer": {"name": "sgd", "lr": 10.0}}, iterations=3,
                   include_trace=True)
    assert result["non_finite"] is True and result["trace"] is None


def test_training_can_return_the_trace_of_the_trained_parameters():
    result = train({"cell": "gru"}, iterations=5, include_trace=True)
    for name, value in result["final_params"].items():
        np.testing.assert_array_equal(result["trace"]["params"][name], value)


def test_training_a_series_predicts_in_the_series_units():
    result = train({"data": {"preset": "series"}}, iterations=200)
    assert result["continuation"] is None
    assert result["predictions"][-1] == pytest.approx(10, abs=1.5)


def test_training_a_series_forecasts_past_its_end_feeding_each_prediction_back():
    series = [2, 4, 6, 8, 10]
    result = train({"data": {"series": series}, "hidden_size": 4}, iterations=200)
    forecast = result["forecast"]
    assert len(forecast) == 20 and result["continuation"] is None
    # the same network run over the series and then its own forecast, as explicit inputs:
    # at every step past the end, its output is the next forecast value
    mean, std = np.mean(series), np.std(series)
    fed = np.array(series + forecast[:-1])
    replay = run_trace({"data": {"inputs": ((fed - mean) / std)[:, None].tolist(),
                                 "targets": [[0.0]] * len(fed)},
                        "hidden_size": 4, "params": {k: v.tolist() for k, v in
                                                     result["final_params"].items()}})
    outputs = [e["o"][0] * std + mean for e in replay["events"] if e["kind"] == "forward"]
    np.testing.assert_allclose(outputs[len(series) - 1:], forecast, rtol=1e-9)
    assert forecast[0] > 10  # the trained network continues the rising series


def test_only_a_series_gets_a_forecast_and_only_text_a_continuation():
    text = train({"data": {"text": "machine"}}, iterations=2)
    assert text["forecast"] is None and isinstance(text["continuation"], str)
    arrays = train(small_request("rnn"), iterations=2)
    assert arrays["forecast"] is None and arrays["continuation"] is None
