"""The scenarios teach what their descriptions say: the recall task is a real recall task whose
RNN gradient vanishes and whose LSTM learns it; the explosion scenario explodes with ReLU and
not with tanh; the series goes on past 10 with ReLU and levels off with a bounded state; the
descriptions in every catalogue name the real number of steps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bptt_studio.engine import PRESETS, run_trace, train
from tests.registries import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = LANGUAGES


def catalogue_text(lang: str, key: str) -> str:
    source = (ROOT / "static/js/i18n" / f"{lang}.js").read_text(encoding="utf-8")
    match = re.search(rf'^\s*"{re.escape(key)}": "((?:[^"\\]|\\.)*)",$', source, re.M)
    assert match, f"{key} missing in {lang}"
    return match.group(1)


def reach_of_last_loss(result: dict) -> float:
    """How much of L(T)'s error reaches h(1), relative to what it puts into h(T)."""
    row = result["diagnostics"]["error_flow"][-1]
    return row[0] / row[-1]


# --- remember the first symbol ----------------------------------------------------------------

def recall(**overrides) -> dict:
    return run_trace({"data": {"preset": "long_range"}, **overrides})


def test_recall_task_asks_for_the_first_symbol_at_the_last_step_only():
    result = recall()
    vocab = result["vocab"]
    first_input = vocab[int(np.argmax(result["inputs"][0]))]
    assert vocab[result["targets"][-1]] == first_input == "A"
    assert result["loss_steps"] == [result["sizes"]["T"]]


def test_recall_distractors_are_not_the_answer_and_include_the_other_symbol():
    result = recall()
    vocab = result["vocab"]
    between = [vocab[int(np.argmax(row))] for row in result["inputs"][1:]]
    assert "A" not in between  # the answer came in at step 1 only
    assert "B" in between  # the other symbol appears, as a distractor


def test_recall_sequence_has_as_many_steps_as_every_description_says():
    T = recall()["sizes"]["T"]
    assert T == 20
    assert f"{T} steps" in PRESETS["long_range"].description
    for lang in CATALOGUES:
        numbers = re.findall(r"\d+", catalogue_text(lang, "preset.long_range.description"))
        assert str(T) in numbers and "12" not in numbers, lang


def test_recall_error_of_the_last_loss_vanishes_before_step_one_in_the_rnn_not_the_lstm():
    rnn, lstm = reach_of_last_loss(recall(cell="rnn")), reach_of_last_loss(recall(cell="lstm"))
    assert rnn < 1e-4
    assert lstm > 1e-2
    assert lstm > 1000 * rnn


def test_recall_error_reaching_the_first_input_is_negligible_in_the_rnn_only():
    def dx_at_one(cell: str) -> float:
        first = next(ev for ev in recall(cell=cell)["events"]
                     if ev["kind"] == "backward" and ev["t"] == 1)
        return float(np.linalg.norm(first["dx"]))

    assert dx_at_one("rnn") < 1e-5
    assert dx_at_one("lstm") > 1e-3


def test_recall_lstm_training_reaches_the_right_answer_in_tokens():
    result = train({"data": {"preset": "long_range"}, "cell": "lstm"}, 60)
    assert result["predictions"][-1] == "A"  # a token, not a pair of logits
    assert result["losses"][-1] < 0.1 * result["losses"][0]


# --- explosion ----------------------------------------------------------------------------------

def exploding(**overrides) -> dict:
    return run_trace({"data": {"preset": "exploding"}, **overrides})


def test_exploding_scenario_is_relu_with_recurrent_weights_above_spectral_radius_one():
    config = exploding()["config"]
    assert config["activation"] == "relu" and config["spectral_radius"] > 1


def test_exploding_scenario_error_grows_at_every_step_back():
    row = np.array(exploding()["diagnostics"]["error_flow"][-1])
    assert np.all(np.diff(row) < 0)  # larger at every earlier step k
    assert row[0] > 1000 * row[-1]
    assert exploding()["updates"][0]["grad_norm"] > 1e4


def test_the_same_scenario_with_tanh_saturates_and_its_error_fades():
    result = exploding(activation="tanh")
    assert reach_of_last_loss(result) < 1e-2
    assert result["updates"][0]["grad_norm"] < 100


@pytest.mark.parametrize("lang", CATALOGUES)
def test_every_catalogue_titles_and_describes_the_exploding_scenario(lang):
    assert catalogue_text(lang, "preset.exploding.title")
    assert "ReLU" in catalogue_text(lang, "preset.exploding.description")


# --- the course's series: 2, 4, 6, 8, 10, and then? ------------------------------------------

PAGE_PASSES = 100  # the page's default training (templates/index.html, #ctl-train-n)


def series_forecast(**overrides) -> list[float]:
    return train({"data": {"preset": "series"}, **overrides}, PAGE_PASSES)["forecast"]


def test_series_preset_after_the_default_training_says_about_12_14_16():
    assert series_forecast()[:3] == pytest.approx([12, 14, 16], abs=0.5)


@pytest.mark.parametrize("bounded", [{"activation": "tanh"}, {"activation": "sigmoid"},
                                     {"cell": "lstm"}, {"cell": "gru"}])
def test_series_with_a_bounded_hidden_state_levels_off_below_what_comes_next(bounded):
    # its output V h + b_y is bounded with h: it cannot reach 16 in three steps
    assert max(series_forecast(**bounded)[:3]) < 15


@pytest.mark.parametrize("lang", CATALOGUES)
def test_every_catalogue_says_the_series_preset_uses_relu_to_go_on(lang):
    text = catalogue_text(lang, "preset.series.description")
    assert "ReLU" in text and "tanh" in text and "12, 14, 16" in text
