"""The plan of a request (engine.plan): everything derived once, before any costly work, and
the one way in of the API (request -> schema -> plan -> limits -> engine -> JSON)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.engine import (
    PRESETS,
    Plan,
    RequestError,
    gradcheck,
    plan,
    problem_of,
    run_trace,
    train,
)
from tests.engine_helpers import CELL_NAMES, small_request

# the module (the package's name ``plan`` is the function)
plan_module = importlib.import_module("bptt_studio.engine.planning.plan")

OPTIONS = {
    "trace": {"detail": "auto"},
    "train": {"iterations": 3, "record_every": 1, "include_trace": True, "detail": "auto"},
    "gradcheck": {},
}


class CountingPreset:
    """A preset that counts how often its settings are read (anywhere, by anyone)."""

    def __init__(self, preset):
        self._preset = preset
        self.reads = 0

    @property
    def settings(self):
        self.reads += 1
        return self._preset.settings

    def __getattr__(self, name):
        return getattr(self._preset, name)


def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# --- each quantity once --------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", list(OPTIONS))
def test_one_request_reads_its_preset_once_from_the_schema_to_the_json(monkeypatch, endpoint):
    preset = CountingPreset(PRESETS["sentence"])
    monkeypatch.setitem(PRESETS, "sentence", preset)
    request = {"data": {"preset": "sentence"}, "hidden_size": 3}
    COMPUTATIONS[endpoint].compute(request, OPTIONS[endpoint], Settings())
    assert preset.reads == 1


@pytest.mark.parametrize("endpoint", list(OPTIONS))
def test_one_request_is_validated_and_encoded_once(monkeypatch, endpoint):
    parsed = _counting(monkeypatch, plan_module, "parse_request")
    encoded = _counting(monkeypatch, plan_module, "encode")
    COMPUTATIONS[endpoint].compute({"cell": "gru", "hidden_size": 3}, OPTIONS[endpoint],
                                   Settings())
    assert (len(parsed), len(encoded)) == (1, 1)


def test_the_engines_entries_take_a_plan_and_do_not_plan_again(monkeypatch):
    job = plan({"cell": "lstm", "hidden_size": 3})
    planned = _counting(monkeypatch, plan_module, "plan")
    run_trace(job)
    gradcheck(job)
    train(job, 2, include_trace=True)
    assert planned == []


def test_k2_is_filled_in_from_k1_once_in_the_plan():
    job = plan({"data": {"text": "machine"}, "truncation": {"k1": 2}})
    assert (job.request.truncation.k2, job.k1, job.k2) == (2, 2, 2)
    assert job.windows == ((1, 2), (3, 4), (5, 6))
    assert run_trace(job)["config"]["truncation"] == {"k1": 2, "k2": 2}


def test_the_plan_merges_the_preset_settings_under_what_the_caller_set():
    job = plan({"data": {"preset": "sentence"}, "hidden_size": 3})
    assert job.H == 3  # the caller's
    assert job.request.optimizer.name == "adagrad"  # the preset's
    assert (job.T, job.D, job.K) == (9, 10, 10)
    assert job.request.data.preset == "sentence"  # the config names the preset


# --- the counts ----------------------------------------------------------------------------

def test_the_plan_counts_the_windows_and_the_steps_of_overlapping_windows():
    job = plan({"data": {"text": "machine"}, "truncation": {"k1": 1, "k2": 3}})
    assert job.windows == ((1, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6))
    assert (job.forward_steps, job.backward_steps) == (6, 1 + 2 + 3 + 3 + 3 + 3)
    result = run_trace(job)
    assert sum(e["kind"] == "backward" for e in result["events"]) == job.backward_steps
    assert len(result["updates"]) == len(job.windows)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_plan_counts_the_parameters_a_pass_allocates(cell):
    job = plan(small_request(cell))
    params = problem_of(job).params
    assert job.parameter_count == sum(p.size for p in params.values())


def test_the_plan_counts_the_cell_steps_a_gradient_check_replays():
    job = plan(small_request("gru", schedule="online_bptt_h"), task="gradcheck")
    assert job.evaluations == 2 * job.parameter_count * job.backward_steps
    with pytest.raises(RequestError) as error:
        gradcheck(job, max_evaluations=job.evaluations - 1)
    assert str(job.evaluations) in error.value.msg


def test_the_work_record_holds_every_count_a_cost_model_needs():
    job = plan({"cell": "lstm", "hidden_size": 5, "data": {"text": "machine"},
                "truncation": {"k1": 2, "k2": 4}, "jacobian_norms": True},
               task="train", iterations=7, include_trace=True)
    work = job.work
    assert (work.task, work.cell, work.T, work.D, work.H, work.K) == ("train", "lstm", 6, 7, 5, 7)
    assert (work.gates, work.parameters) == (4, job.parameter_count)
    assert (work.windows, work.updates) == (3, 3)
    assert (work.forward_steps, work.backward_steps) == (6, 2 + 4 + 4)
    assert (work.iterations, work.evaluations) == (7, 0)
    assert work.recorded and work.diagnostics and work.jacobian_norms


def test_a_plan_for_another_task_keeps_everything_but_the_work():
    job = plan({"cell": "gru"})
    assert job.for_task("trace") is job
    as_gradcheck = job.for_task("gradcheck")
    assert as_gradcheck.work.evaluations == job.evaluations > 0
    assert as_gradcheck.data is job.data and as_gradcheck.request is job.request


def test_training_needs_at_least_one_iteration():
    with pytest.raises(RequestError) as error:
        plan({}, task="train", iterations=0)
    assert error.value.loc == ("iterations",)


def test_planning_forms_no_array_larger_than_the_data():
    # 2,000 distinct words: the one-hot inputs would be 2,000 x 2,000; the plan keeps ids
    words = " ".join(f"w{i}" for i in range(2000))
    job = plan({"data": {"words": words}})
    assert (job.T, job.D, job.K) == (1999, 2000, 2000)
    assert job.data.input_ids is not None and job.data.input_ids.shape == (1999,)
    assert isinstance(job, Plan)


# --- K from the explicit parameters --------------------------------------------------------

def _params(cell_request, K):
    """Parameters of the request's shapes with V and b_y of K rows."""
    params = {k: v.tolist() for k, v in run_trace(cell_request)["params"].items()}
    rng = np.random.default_rng(0)
    H = len(params["V"][0])
    params["V"] = rng.uniform(-0.5, 0.5, size=(K, H)).tolist()
    params["b_y"] = [0.0] * K
    return params


def test_explicit_parameters_set_K_when_output_size_is_absent():
    # targets that happen not to use class 4: the five rows of V decide K = 5
    data = {"inputs": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "targets": [0, 3, 1]}
    request = {"data": data, "hidden_size": 2, "output_size": 5}
    params = _params(request, 5)
    result = run_trace({"data": data, "hidden_size": 2, "params": params})
    assert result["sizes"]["K"] == 5 and result["config"]["output_size"] == 5
    assert result["events"][0]["yhat"].shape == (5,)


def test_class_ids_beyond_the_explicit_parameters_rows_are_refused_naming_them():
    data = {"inputs": [[1.0], [0.0]], "targets": [0, 3]}
    params = _params({"data": {"inputs": [[1.0], [0.0]], "targets": [0, 2]},
                      "hidden_size": 2}, 3)
    with pytest.raises(RequestError) as error:
        run_trace({"data": data, "hidden_size": 2, "params": params})
    assert error.value.loc == ("data", "targets", 1)
    assert "params V" in error.value.msg and "0..2" in error.value.msg


def test_output_size_still_decides_K_over_the_parameters():
    data = {"inputs": [[1.0], [0.0]], "targets": [0, 1]}
    params = _params({"data": data, "hidden_size": 2, "output_size": 4}, 4)
    with pytest.raises(RequestError) as error:
        run_trace({"data": data, "hidden_size": 2, "params": params, "output_size": 3})
    assert error.value.loc == ("params", "V")
    assert "expected [3, 2]" in error.value.msg


def test_text_fixes_K_to_its_vocabulary_whatever_the_parameters_say():
    params = _params({"data": {"text": "machine"}}, 5)
    with pytest.raises(RequestError) as error:
        run_trace({"data": {"text": "machine"}, "params": params})
    assert error.value.loc == ("params", "V")
    assert "expected [7, 4]" in error.value.msg and "given [5, 4]" in error.value.msg


# --- explicit parameters: each bad entry named where it is -----------------------------------

def _machine_params() -> dict:
    return _params({"data": {"text": "machine"}}, 7)


@pytest.mark.parametrize("entry", [None, True, False, "0.5", np.nan, np.inf, [0.5]],
                         ids=["null", "true", "false", "string", "nan", "inf", "list"])
def test_a_weight_entry_that_is_not_a_finite_number_is_refused_naming_its_entry(entry):
    params = _machine_params()
    params["U"][3][1] = entry
    with pytest.raises(RequestError) as error:
        plan({"data": {"text": "machine"}, "params": params})
    assert error.value.loc == ("params", "U", 3, 1)


def test_a_bias_entry_that_is_not_a_number_is_refused_naming_its_index():
    params = _machine_params()
    params["b"][2] = "0.1"
    with pytest.raises(RequestError) as error:
        plan({"data": {"text": "machine"}, "params": params})
    assert error.value.loc == ("params", "b", 2)
    assert "the string '0.1'" in error.value.msg


def test_check_params_names_the_entry_too_when_called_without_the_request_walker():
    from bptt_studio.engine.request.params import check_params

    params = _machine_params()
    params["W"][1][0] = float("nan")
    with pytest.raises(RequestError) as error:
        check_params(params, "rnn", 4, 7, 7)
    assert error.value.loc == ("params", "W", 1, 0) and "finite" in error.value.msg
    params["W"][1][0] = True  # NumPy would read it as 1.0
    with pytest.raises(RequestError) as error:
        check_params(params, "rnn", 4, 7, 7)
    assert error.value.loc == ("params", "W", 1, 0) and "got true" in error.value.msg


def test_numpy_arrays_from_a_notebook_are_checked_entry_by_entry():
    params = {k: np.asarray(v) for k, v in _machine_params().items()}
    params["V"][6, 3] = np.inf
    with pytest.raises(RequestError) as error:
        plan({"data": {"text": "machine"}, "params": params})
    assert error.value.loc == ("params", "V", 6, 3)


def test_the_engine_plans_and_runs_without_pydantic_or_the_web_app():
    # numpy and the standard library only: a notebook needs nothing of the API
    code = ("import sys\n"
            "for name in ('pydantic', 'pydantic_core', 'fastapi', 'starlette'):\n"
            "    sys.modules[name] = None  # importing it now fails\n"
            "from bptt_studio.engine import plan, run_trace\n"
            "print(run_trace(plan({'cell': 'gru'}))['sizes']['K'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"
