"""The cost model (engine/planning/cost.py) and the limits that judge it
(app/serving/limits.py): the estimate grows with every count, a request over the budget is
refused naming the field to reduce and how far, and what that says to do is then accepted."""

from __future__ import annotations

import itertools

import pytest

from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.detail import estimate_full_bytes
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.engine import RequestError, plan, run_trace
from bptt_studio.engine.planning import cost
from bptt_studio.engine.planning.plan import count_work
from bptt_studio.serving.limits import BYTES_PER_NUMBER, MB, check, response
from tests.engine_helpers import CELL_NAMES

ALPHABET = [chr(0x21 + i) for i in range(94)] + [chr(0xC0 + i) for i in range(34)]
OUTPUTS = [cost.Output("json", "auto"), cost.Output("json", "norms"), cost.Output("csv", "auto"),
           cost.Output("neuron"), cost.Output("none")]


def text(T: int, D: int) -> str:
    """T + 1 characters, D of them distinct (T steps, input size D)."""
    chars = "".join(ALPHABET[:D])
    return (chars * (T // D + 2))[:T + 1]


def request(cell: str = "lstm", T: int = 200, D: int = 128, H: int = 64, **fields) -> dict:
    return {"cell": cell, "hidden_size": H, "data": {"text": text(T, D)}, **fields}


def only_error(error: pytest.ExceptionInfo[RequestError]) -> tuple[tuple, str]:
    return error.value.loc, error.value.msg


# --- the estimate ----------------------------------------------------------------------------

def test_every_phase_the_model_can_name_has_calibrated_coefficients():
    assert cost.CALIBRATION and "calibrate_cost.py" in "".join(cost.CALIBRATION)
    phases = set()
    for task, output in itertools.product(("trace", "train", "gradcheck"), OUTPUTS):
        work = count_work(task, "lstm", 20, 5, 4, 5, k1=2, k2=4, truncated=True,
                          iterations=3, include_trace=True, jacobian_norms=True,
                          spectral_radii=True, clip="norm")
        phases |= set(cost.features(work, output))
    assert "spectral" in phases  # fitted apart (SPECTRAL_CPU): its memory is one small stack
    assert phases - {"spectral"} <= set(cost.CPU) and phases - {"spectral"} <= set(cost.MEMORY)
    assert all(c > 0 for c in cost.SPECTRAL_CPU.values())
    assert min(cost.MARGIN) >= 1.0


COUNTS = {"T": (2, 200), "H": (1, 64), "D": (2, 128), "K": (2, 128), "iterations": (1, 2000),
          "k2": (1, 200)}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("count", list(COUNTS))
def test_the_estimate_grows_with_each_count(cell, count):
    low, high = COUNTS[count]
    for task, output, truncated in itertools.product(("trace", "train", "gradcheck"), OUTPUTS,
                                                     (False, True)):
        previous = None
        for value in sorted({low, (low + high) // 4, (low + high) // 2, high - 1, high}):
            sizes = {"T": 60, "H": 16, "D": 20, "K": 20, "iterations": 10, "k2": 3, count: value}
            k1 = 1 if truncated else sizes["T"]
            work = count_work(task, cell, sizes["T"], sizes["D"], sizes["H"], sizes["K"],
                              k1=k1, k2=sizes["k2"] if truncated else sizes["T"],
                              truncated=truncated, iterations=sizes["iterations"],
                              include_trace=True, optimizer="adam")
            estimate = cost.estimate(work, output)
            if previous is not None:
                what = f"{count} = {value}, {task}, {output}, truncated {truncated}"
                assert estimate.cpu_seconds >= previous.cpu_seconds, what
                assert estimate.peak_bytes >= previous.peak_bytes, what
            previous = estimate


def test_the_estimate_counts_the_options_that_cost_more():
    base = dict(task="trace", cell="gru", T=120, D=30, H=32, K=30, k1=120, k2=120)
    plain = cost.estimate(count_work(**base, diagnostics=False), OUTPUTS[0])
    diagnosed = cost.estimate(count_work(**base), OUTPUTS[0])
    jacobian = cost.estimate(count_work(**base, jacobian_norms=True), OUTPUTS[0])
    assert plain.cpu_seconds < diagnosed.cpu_seconds < jacobian.cpu_seconds
    train = {**base, "task": "train"}
    one, fifty, hundred = (cost.estimate(count_work(**train, iterations=n), OUTPUTS[0])
                           for n in (1, 51, 101))
    per_pass = (fifty.cpu_seconds - one.cpu_seconds) / 50
    assert per_pass > 0  # every pass costs the same: the CPU time is linear in iterations
    assert hundred.cpu_seconds - fifty.cpu_seconds == pytest.approx(50 * per_pass)
    # a pass frees its memory before the next: only the curves grow
    assert hundred.peak_bytes == pytest.approx(fifty.peak_bytes, rel=1e-3)


def test_a_plan_is_estimated_from_its_work():
    job = plan(request("lstm", 40, 10, 8), task="train", iterations=5)
    estimated = cost.estimate(job.work)
    assert estimated.cpu_seconds > 0 and estimated.peak_bytes > 0


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("truncation", [None, {"k1": 1, "k2": 2}, {"k1": 3, "k2": 8}])
def test_the_count_of_a_full_trace_is_the_api_estimate_of_its_size(cell, truncation):
    req = request(cell, 30, 9, 6, truncation=truncation, jacobian_norms=True)
    job = plan(req)
    counted = cost.trace_numbers(job.work, full=True)
    measured = estimate_full_bytes(run_trace(job)) // BYTES_PER_NUMBER
    assert counted == pytest.approx(measured, rel=0.03)


# --- the counts the diagnostics run ------------------------------------------------------------

def _error_flow_counts(T, k1, k2, loss_at):
    """The rows engine.diagnostics._error_flow steps back, counted by its own loop."""
    from bptt_studio.engine.bptt.schedule import windows

    losses_at = set(range(1, T + 1)) if loss_at == "every" else {T}
    steps = rows = done = 0
    for first, last in windows(T, min(k1, T), min(max(k1, k2), T)):
        losses = [t for t in range(done + 1, last + 1) if t in losses_at]
        done = last
        for k in range(last, first - 1, -1):
            reaching = sum(1 for t in losses if t >= k)
            steps, rows = steps + (reaching > 0), rows + reaching
    return steps, rows


@pytest.mark.parametrize("loss_at", ["every", "last"])
def test_the_work_counts_the_error_flow_steps_and_rows(loss_at):
    for T, k1, k2 in itertools.product(range(1, 25), range(1, 9), range(1, 12)):
        work = count_work("trace", "rnn", T, 2, 2, 2, k1=k1, k2=k2, truncated=True,
                          loss_at=loss_at)
        assert (work.flow_steps, work.flow_rows) == _error_flow_counts(T, k1, k2, loss_at)


def test_the_work_of_a_plan_is_its_count():
    job = plan(request("gru", 50, 12, 5, truncation={"k1": 2, "k2": 7}, loss_at="last"),
               task="train", iterations=9, include_trace=True)
    assert job.work == count_work("train", "gru", 50, 12, 5, 12, k1=2, k2=7, truncated=True,
                                  loss_at="last", iterations=9, include_trace=True)


# --- the limits judge the cost -----------------------------------------------------------------

SLOW_TRAIN = request("lstm", truncation={"k1": 1}, optimizer={"name": "adam", "lr": 0.01})
TRAIN = {"iterations": 100, "record_every": 1, "include_trace": False, "detail": "auto"}


def test_the_issue_s_train_request_is_refused_naming_iterations_and_how_many_fit():
    # one 1.35 KB request that used to cost about 40 CPU-seconds
    with pytest.raises(RequestError) as error:
        COMPUTATIONS["train"].compute(SLOW_TRAIN, TRAIN, Settings())
    loc, msg = only_error(error)
    assert loc == ("iterations",)
    assert "CPU-seconds" in msg and "the server allows 2 CPU-seconds (BPTT_MAX_CPU_SECONDS)" in msg
    most = int(msg.split("at most ")[1].split(" iterations")[0])
    assert 1 <= most < 100
    assert "or truncation k1 at least" in msg  # the other ways, too


def test_the_iterations_a_refusal_names_are_accepted_and_one_more_is_not():
    settings = Settings()
    with pytest.raises(RequestError) as error:
        COMPUTATIONS["train"].compute(SLOW_TRAIN, TRAIN, settings)
    most = int(error.value.msg.split("at most ")[1].split(" iterations")[0])
    job = plan(SLOW_TRAIN, task="train", iterations=most)
    check(job, settings, response(settings, "json", "auto"))  # just under: accepted
    with pytest.raises(RequestError):
        check(job.for_task("train", most + 1), settings, response(settings, "json", "auto"))


def test_a_trace_over_the_memory_budget_names_a_field_and_the_megabytes():
    with pytest.raises(RequestError) as error:
        check(plan(request("lstm", truncation={"k1": 1, "k2": 2})), Settings())
    loc, msg = only_error(error)
    assert "MB at its peak" in msg and "200 MB (BPTT_MAX_MEMORY_MB)" in msg
    assert loc in {("truncation", "k1"), ("truncation", "k2"), ("hidden_size",)}


def test_the_jacobian_norms_are_named_when_they_are_what_costs():
    job = plan(request("rnn", 200, 128, 64, jacobian_norms=True))
    without = plan(request("rnn", 200, 128, 64))
    low, high = (cost.estimate(j.work, response(Settings())).cpu_seconds for j in (without, job))
    assert high > 1.5 * low  # O(T^2 H^3): at these sizes, most of the trace's cost
    settings = Settings(max_cpu_seconds=(low + high) / 2)
    with pytest.raises(RequestError) as error:
        check(job, settings)
    loc, msg = only_error(error)
    assert loc == ("jacobian_norms",) and '"jacobian_norms": false' in msg


def test_the_spectral_radii_are_counted_for_every_version_and_named_when_they_cost():
    job = plan(request("lstm", 200, 128, 64, truncation={"k1": 1, "k2": 2},
                       spectral_radii=True))
    assert job.work.spectral_matrices == 4 * (200 + 1)  # W_f, W_i, W_g, W_o of 201 versions
    without = plan(request("lstm", 200, 128, 64, truncation={"k1": 1, "k2": 2}))
    low, high = (cost.estimate(j.work, response(Settings())).cpu_seconds for j in (without, job))
    assert high > low + 4 * 201 * 64 ** 3 * cost.SPECTRAL_CPU["cubes"]
    with pytest.raises(RequestError) as error:
        check(job, Settings(max_cpu_seconds=(low + high) / 2, max_memory_mb=10**6))
    loc, msg = only_error(error)
    assert loc == ("spectral_radii",) and '"spectral_radii": false' in msg


def test_a_refusal_for_the_sequence_names_the_data_field_in_its_own_units():
    # one pass, one unit, no diagnostics: only the sequence is left to cut
    job = plan({"cell": "gru", "hidden_size": 1, "data": {"series": list(range(201))},
                "diagnostics": False}, task="train", iterations=1)
    estimated = cost.estimate(job.work, response(Settings()))
    settings = Settings(max_cpu_seconds=0.9 * estimated.cpu_seconds)
    with pytest.raises(RequestError) as error:
        check(job, settings)
    loc, msg = only_error(error)
    assert loc == ("data", "series") and "steps (" in msg and "values)" in msg


def test_each_way_a_refusal_offers_fits_the_budget():
    settings = Settings()
    budget = (settings.max_cpu_seconds, settings.max_memory_mb * MB)
    for truncation, task in itertools.product([None, {"k1": 1, "k2": 3}], ["trace", "train"]):
        job = plan(request("gru", jacobian_norms=True, truncation=truncation), task=task,
                   iterations=300, include_trace=True)
        output = response(settings)
        found = cost.reductions(job.work, output, *budget)
        assert found and all(r.cost.fits(*budget) for r in found)


def test_a_small_request_is_accepted_by_the_default_budget():
    for endpoint, options in (("trace", {"detail": "auto"}), ("gradcheck", {}),
                              ("train", {**TRAIN, "iterations": 100})):
        COMPUTATIONS[endpoint].compute({"cell": "lstm", "hidden_size": 4}, options, Settings())


def test_the_superseded_count_limits_still_apply_when_a_deployment_sets_them():
    settings = Settings(max_backward_steps=400)
    with pytest.raises(RequestError) as error:
        check(plan({"data": {"series": list(range(201))}, "truncation": {"k1": 1, "k2": 200}}),
              settings)
    assert "20100 backward steps" in error.value.msg
    assert "BPTT_MAX_BACKWARD_STEPS" in error.value.msg
    assert Settings().max_backward_steps is None  # unset by default: the cost budget rules


def test_the_budgets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPTT_MAX_CPU_SECONDS", "0.5")
    monkeypatch.setenv("BPTT_MAX_MEMORY_MB", "64")
    settings = Settings()
    assert (settings.max_cpu_seconds, settings.max_memory_mb) == (0.5, 64)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_each_numeric_way_is_the_least_change_that_fits(cell):
    settings = Settings()
    budget = (settings.max_cpu_seconds, settings.max_memory_mb * MB)
    job = plan(request(cell, truncation={"k1": 2, "k2": 6}), task="train", iterations=60,
               include_trace=True)
    output = response(settings)
    found = {r.field: r.value for r in cost.reductions(job.work, output, *budget)}
    assert {"iterations", "truncation.k1", "steps"} <= set(found)
    work = job.work
    for field, step in (("iterations", 1), ("hidden_size", 1), ("steps", 1),
                        ("truncation.k2", 1), ("truncation.k1", -1)):
        if field not in found:
            continue
        name = {"hidden_size": "H", "steps": "T", "truncation.k2": "k2",
                "truncation.k1": "k1"}.get(field, field)
        value = int(found[field])
        fitting = cost._recount(work, **{name: value})
        beyond = cost._recount(work, **{name: value + step})
        assert cost.estimate(fitting, output).fits(*budget), field
        assert not cost.estimate(beyond, output).fits(*budget), field
