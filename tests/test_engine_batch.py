"""Mini-batches (DESIGN.md, "Mini-batches"): n sequences, one schedule, one update per window
from the sum of the examples' shares; "mean" over the batch's (example, step) loss terms.

The numbers against PyTorch autograd are tests/golden/batch_*.json (tests/test_golden.py);
here: the shares and their sum, what a batch of one is, what each share is, finite
differences, the events and shapes, and every refusal. Every test runs over every cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bptt_studio.engine import RequestError, gradcheck, neuron, plan, run_trace, train
from bptt_studio.engine.cells.registry import CELLS
from bptt_studio.engine.planning.cost import PER_EXAMPLE, Output, estimate
from bptt_studio.engine.request.fields import MAX_EXAMPLES

ALL_CELLS = list(CELLS)
TEXTS = ["machine", "learner", "network"]  # three sequences of T = 6 steps


def batch_request(cell: str, **extra: Any) -> dict[str, Any]:
    return {"cell": cell, "hidden_size": 3, "seed": 5,
            "data": {"batch": [{"text": text} for text in TEXTS]}, **extra}


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("cell", ALL_CELLS)
def test_the_update_gradient_is_the_sum_of_the_examples_shares(cell, reduction):
    result = run_trace(batch_request(cell, reduction=reduction, truncation={"k1": 2, "k2": 3}))
    for update in result["updates"]:
        shares = update["shares"]
        assert [share["example"] for share in shares] == list(range(len(TEXTS)))
        close(update["loss"], sum(share["loss"] for share in shares))
        for name, grad in update["grads"].items():
            close(grad, sum(share["grads"][name] for share in shares))


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_each_share_is_what_its_example_alone_gives(cell):
    """Full BPTT, one window: example e's share with "sum" is the gradient of a trace of
    that sequence alone; with "mean" it is that sequence's own mean gradient over n."""
    for reduction, over in (("sum", 1), ("mean", len(TEXTS))):
        batch = run_trace(batch_request(cell, reduction=reduction))
        for e in range(len(TEXTS)):
            share = batch["updates"][0]["shares"][e]["grads"]
            alone = _alone(cell, reduction, e)["updates"][0]["grads"]
            for name in share:
                close(share[name], alone[name] / over)


def _alone(cell: str, reduction: str, e: int) -> dict[str, Any]:
    """Example e run as a batch of one, with the batch's vocabulary (the other texts' tokens
    appear as classes no step targets): the parameters have the batch's shapes."""
    base = run_trace(batch_request(cell, reduction=reduction))
    request = {**batch_request(cell, reduction=reduction),
               "data": {"batch": [{"text": TEXTS[e]}]},
               "params": {name: np.asarray(value).tolist()
                          for name, value in base["params"].items()}}
    # a batch of one has its own vocabulary: map the batch's one-hot rows by hand instead
    vocab = base["vocab"]
    inputs = [[1.0 if vocab[j] == ch else 0.0 for j in range(len(vocab))]
              for ch in TEXTS[e][:-1]]
    targets = [vocab.index(ch) for ch in TEXTS[e][1:]]
    request["data"] = {"inputs": inputs, "targets": targets}
    request["output_size"] = len(vocab)
    return run_trace(request)


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_a_batch_of_one_answers_as_its_sequence_does(cell):
    one = run_trace({**batch_request(cell), "data": {"batch": [{"text": "machine"}]}})
    alone = run_trace({**batch_request(cell), "data": {"text": "machine"}})
    close(one["loss"], alone["loss"])
    close(one["step_losses"][0], alone["step_losses"])
    for got, want in zip(one["updates"], alone["updates"], strict=True):
        for name in want["grads"]:
            close(got["grads"][name], want["grads"][name])
            close(got["params_after"][name], want["params_after"][name])


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_mean_divides_the_sum_by_the_batch_loss_terms(cell):
    """One window over T = 6 steps of 3 examples: 18 terms."""
    summed = run_trace(batch_request(cell, reduction="sum"))["updates"][0]
    mean = run_trace(batch_request(cell, reduction="mean"))["updates"][0]
    terms = len(TEXTS) * 6
    close(mean["loss"] * terms, summed["loss"])
    for name in summed["grads"]:
        close(mean["grads"][name] * terms, summed["grads"][name])


@pytest.mark.parametrize("truncation", [None, {"k1": 2, "k2": 3}, {"k1": 1, "k2": 2}])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("cell", ALL_CELLS)
def test_finite_differences_agree_with_a_batch_gradient(cell, reduction, truncation):
    checked = gradcheck(batch_request(cell, reduction=reduction, truncation=truncation,
                                      diagnostics=False))
    assert checked["ok"], checked["max_rel_error"]


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_every_event_names_its_example_and_the_arrays_hold_the_batch(cell):
    result = run_trace(batch_request(cell, truncation={"k1": 3}))
    n, T = len(TEXTS), 6
    assert result["sizes"]["n"] == n
    assert np.shape(result["inputs"]) == (n, T, result["sizes"]["D"])
    assert np.shape(result["targets"]) == (n, T)
    assert np.shape(result["step_losses"]) == (n, T)
    steps = [(e["kind"], e.get("example"), e["t"]) for e in result["events"]]
    window = [("forward", 0, 1), ("forward", 0, 2), ("forward", 0, 3), ("backward", 0, 3),
              ("backward", 0, 2), ("backward", 0, 1)]
    assert steps[:6] == window
    assert steps[6:12] == [(kind, 1, t) for kind, _, t in window]
    assert steps[18] == ("update", None, 3)
    assert len(result["example_diagnostics"]) == n
    assert result["diagnostics"] is result["example_diagnostics"][0]
    assert np.shape(result["updates"][0]["dh_start"]) == (n, 3)


def test_each_example_reads_its_own_inputs_and_targets():
    result = run_trace(batch_request("rnn"))
    vocab = result["vocab"]
    for event in result["events"]:
        if event["kind"] == "forward":
            text = TEXTS[event["example"]]
            assert vocab[int(np.argmax(event["x"]))] == text[event["t"] - 1]
            assert vocab[event["target"]] == text[event["t"]]


def test_a_request_without_a_batch_carries_no_batch_fields():
    result = run_trace({"data": {"text": "machine"}})
    assert "n" not in result["sizes"] and "example_diagnostics" not in result
    assert all("example" not in event for event in result["events"])
    assert all("shares" not in update for update in result["updates"])


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_training_on_a_batch_says_what_each_example_predicts(cell):
    trained = train(batch_request(cell), iterations=3)
    assert len(trained["predictions"]) == len(TEXTS)
    assert all(len(predicted) == 6 for predicted in trained["predictions"])
    assert len(trained["continuation"]) == len(TEXTS) and trained["forecast"] is None
    series = train({"cell": cell, "data": {"batch": [{"series": [1, 2, 3, 4]},
                                                     {"series": [2, 4, 6, 8]}]}}, iterations=2)
    assert [len(values) for values in series["forecast"]] == [20, 20]


def test_a_series_batch_is_z_scored_with_all_its_values():
    result = run_trace({"data": {"batch": [{"series": [1, 2, 3]}, {"series": [5, 6, 7]}]}})
    values = np.array([1, 2, 3, 5, 6, 7], dtype=float)
    assert result["scale"] == {"mean": values.mean(), "std": values.std()}
    close(result["inputs"][1][0][0], (5 - values.mean()) / values.std())


def test_class_ids_share_the_largest_output_size_of_the_batch():
    result = run_trace({"data": {"batch": [{"inputs": [[1.0], [0.0]], "targets": [0, 1]},
                                           {"inputs": [[0.5], [0.2]], "targets": [3, 0]}]}})
    assert result["sizes"]["K"] == 4


@pytest.mark.parametrize("cell", ALL_CELLS)
def test_the_neuron_view_reads_the_chosen_examples_unit(cell):
    request = batch_request(cell, truncation={"k1": 3, "k2": 4})
    result = run_trace(request)
    for e in range(len(TEXTS)):
        view = neuron(request, t=3, unit=1, update=1, example=e)
        event = next(ev for ev in result["events"] if ev["kind"] == "backward"
                     and ev["example"] == e and ev["t"] == 3 and ev["update"] == 1)
        assert view["example"] == e
        close(view["dh"]["value"], event["dh"][1])
        close(view["dh"]["terms"][0]["value"], event["dh_out"][1])


def test_only_a_batch_has_examples_to_choose():
    with pytest.raises(RequestError) as refused:
        neuron({"data": {"text": "machine"}}, t=2, unit=0, example=0)
    assert refused.value.loc == ("example",)
    with pytest.raises(RequestError) as refused:
        neuron(batch_request("rnn"), t=2, unit=0, example=len(TEXTS))
    assert refused.value.loc == ("example",) and "0..2" in refused.value.msg


# --- refusals --------------------------------------------------------------------------------

REFUSED = {
    "lengths differ": ({"batch": [{"text": "machine"}, {"text": "mach"}]}, {},
                       ("data", "batch", 1), "same length"),
    "shapes differ": ({"batch": [{"text": "machine"}, {"words": "a b c"}]}, {},
                      ("data", "batch", 1), "shape of example 0"),
    "an example too short": ({"batch": [{"text": "ma"}, {"text": "m"}]}, {},
                             ("data", "batch", 1), None),
    "input sizes differ": ({"batch": [{"inputs": [[1.0], [2.0]], "targets": [0, 1]},
                                      {"inputs": [[1.0, 2.0], [2.0, 1.0]],
                                       "targets": [0, 1]}]}, {}, ("data", "batch", 1), "D ="),
    "a bug": ({"batch": [{"text": "machine"}]}, {"bug": "dh_next_dropped"}, ("bug",),
              "one sequence"),
    "too many examples": ({"batch": [{"text": "ab"}] * (MAX_EXAMPLES + 1)}, {},
                          ("data", "batch"), None),
    "no example": ({"batch": []}, {}, ("data", "batch"), None),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_batch_is_refused_naming_where(case):
    data, extra, loc, words = REFUSED[case]
    with pytest.raises(RequestError) as refused:
        plan({"data": data, **extra})
    assert refused.value.loc[:len(loc)] == loc
    if words is not None:
        assert words in refused.value.msg


def test_writing_text_reads_one_sequence():
    with pytest.raises(RequestError) as refused:
        plan({"data": {"batch": [{"text": "machine"}]}}, task="sample")
    assert refused.value.loc == ("data", "batch")


# --- the cost --------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ALL_CELLS)
def test_a_batch_costs_each_phase_of_the_pass_once_per_example(cell):
    def cost(n: int) -> Any:
        request = {**batch_request(cell), "data": {"batch": [{"text": "machine"}] * n}}
        return estimate(plan(request).work, Output(form="json", detail="norms"))

    one, three = cost(1), cost(3)
    phases_one = {name: (cpu, memory) for name, cpu, memory in one.phases}
    assert PER_EXAMPLE & set(phases_one)
    for name, cpu, memory in three.phases:
        if name in PER_EXAMPLE:
            assert (cpu, memory) == pytest.approx((3 * phases_one[name][0],
                                                   3 * phases_one[name][1]))
        elif name == "base":
            assert (cpu, memory) == phases_one[name]
    assert three.response_numbers > one.response_numbers
