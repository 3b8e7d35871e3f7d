"""The bug catalogue (engine/bugs.py): every planted mistake is caught by the gradient check on
its scenario, changes only the backward pass, parts from the true pass at the line it names,
and leaves every number as it was once removed."""

from __future__ import annotations

import numpy as np
import pytest

from bptt_studio.engine import RequestError, gradcheck, run_trace
from bptt_studio.engine.request.bugs import BUGS, LINES, catalogue
from tests.engine_helpers import CELL_NAMES, small_request

# every (bug, cell) the catalogue lists, on the bug's own scenario with that cell
CASES = [(bug.id, cell) for bug in BUGS.values() for cell in bug.cells]


def scenario(bug_id: str, cell: str, **extra) -> dict:
    return {**BUGS[bug_id].scenario, "cell": cell, **extra}


def test_the_catalogue_holds_at_least_the_mistakes_the_issue_lists():
    assert len(BUGS) >= 8
    lines = {(bug_id, cell): entry.line for bug_id, bug in BUGS.items()
             for cell, entry in bug.lines.items()}
    # the recursion, a derivative, the derivative's argument, the index, the LSTM's cell path
    # and forget factor, the GRU's reset gate, the mean's 1/n, clipping
    assert lines[("dh_next_dropped", "rnn")] == "dh"
    assert lines[("derivative_missing", "rnn")] == "delta"
    assert lines[("derivative_of_preactivation", "rnn")] == "delta"
    assert lines[("h_index_off_by_one", "rnn")] == "contrib"
    assert lines[("dc_next_dropped", "lstm")] == "dc"
    assert lines[("forget_factor_missing", "lstm")] == "dc_prev"
    assert lines[("reset_gate_wrong_side", "gru")] == "dh_prev"
    assert {lines[(b, "rnn")] for b in ("mean_applied_twice", "mean_not_applied")} == {"g_o"}
    assert lines[("clip_by_value_as_norm", "rnn")] == "grad"


@pytest.mark.parametrize("bug_id", BUGS)
def test_each_bug_names_a_line_of_each_cell_it_applies_to(bug_id):
    for cell, entry in BUGS[bug_id].lines.items():
        assert entry.line in LINES[cell]
        assert entry.correct != entry.bugged


@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_the_gradient_check_catches_the_bug_on_its_scenario(bug_id, cell):
    request = scenario(bug_id, cell)
    assert gradcheck(request)["ok"] is True  # the true pass, on the same scenario
    caught = gradcheck({**request, "bug": bug_id})
    assert caught["ok"] is False
    assert max(caught["max_rel_error"].values()) > 1e-3


@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_the_bugged_pass_parts_from_the_true_one_at_the_line_the_catalogue_names(bug_id, cell):
    parting = run_trace({**scenario(bug_id, cell), "bug": bug_id})["bug"]["parting"]
    assert parting["line"] == BUGS[bug_id].lines[cell].line
    assert parting["update"] == 0 and parting["params"]


@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_a_bug_changes_neither_the_forward_pass_nor_the_loss(bug_id, cell):
    true = run_trace(scenario(bug_id, cell))
    bugged = run_trace({**scenario(bug_id, cell), "bug": bug_id})
    first_update = true["windows"][0]["last"]  # later steps run on the updated parameters
    for a, b in zip(true["events"], bugged["events"], strict=True):
        if a["kind"] == "forward" and a["t"] <= first_update:
            assert np.array_equal(a["h"], b["h"]) and a["loss"] == b["loss"]


@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_the_parameters_that_part_are_those_whose_gradient_check_fails(bug_id, cell):
    request = {**scenario(bug_id, cell), "bug": bug_id}
    parting = run_trace(request)["bug"]["parting"]
    failing = {name for name, err in gradcheck(request)["max_rel_error"].items() if err > 1e-5}
    assert set(parting["params"]) == failing


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_without_a_bug_the_trace_is_the_same_bits_and_says_nothing_of_bugs(cell):
    request = small_request(cell, schedule="k1_lt_k2")
    plain, with_none = run_trace(request), run_trace({**request, "bug": None})
    assert "bug" not in plain and "bug" not in plain["config"] and "bug" not in with_none
    for a, b in zip(plain["events"], with_none["events"], strict=True):
        if a["kind"] == "backward":
            assert np.array_equal(a["dh"], b["dh"])
    for a, b in zip(plain["updates"], with_none["updates"], strict=True):
        for name in a["grads"]:
            assert np.array_equal(a["grads"][name], b["grads"][name])


@pytest.mark.parametrize(("bug_id", "cell"), CASES)
def test_removing_the_bug_restores_the_exact_numbers(bug_id, cell):
    request = scenario(bug_id, cell)
    run_trace({**request, "bug": bug_id})  # nothing of a bugged pass stays behind
    again, before = run_trace(request), run_trace(request)
    for a, b in zip(again["updates"], before["updates"], strict=True):
        for name in a["grads"]:
            assert np.array_equal(a["grads"][name], b["grads"][name])
    assert again["loss"] == before["loss"]


@pytest.mark.parametrize("bug_id", BUGS)
def test_a_bug_on_a_cell_it_does_not_apply_to_is_refused_naming_the_field(bug_id):
    others = [cell for cell in CELL_NAMES if cell not in BUGS[bug_id].cells]
    for cell in others:
        with pytest.raises(RequestError) as err:
            run_trace({**scenario(bug_id, BUGS[bug_id].cells[0]), "cell": cell, "bug": bug_id})
        assert err.value.loc == ("bug",) and cell in err.value.msg


@pytest.mark.parametrize(("bug_id", "requirement"),
                         [(b.id, r) for b in BUGS.values() for r in b.requires])
def test_a_bug_whose_settings_cannot_show_it_is_refused_with_what_to_set(bug_id, requirement):
    cell = requirement.cells[0] if requirement.cells else BUGS[bug_id].cells[0]
    bad = {"reduction": "sum", "loss_at": "last", "activation": "relu", "clip": None}
    with pytest.raises(RequestError) as err:
        run_trace({**scenario(bug_id, cell), requirement.field: bad[requirement.field],
                   "bug": bug_id})
    assert err.value.loc == ("bug",) and requirement.field.replace("_", "") in \
        err.value.msg.replace("_", "")


def test_an_unknown_bug_is_refused_with_the_catalogue():
    with pytest.raises(RequestError) as err:
        run_trace({"bug": "off_by_two"})
    assert err.value.loc == ("bug",) and "dh_next_dropped" in err.value.msg


def test_the_catalogue_as_data_lists_each_bug_with_its_lines_and_scenario():
    listed = catalogue()
    assert [entry["id"] for entry in listed] == list(BUGS)
    for entry in listed:
        assert set(entry["lines"]) == set(entry["cells"])
        assert entry["scenario"]["cell"] in entry["cells"]
