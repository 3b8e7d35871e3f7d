"""What a request will cost, before any of it runs: CPU seconds and peak memory from its plan.

    job = plan(request, task="train", iterations=100)
    cost = estimate(job.work, Output("json", "auto"))
    cost.cpu_seconds, cost.peak_bytes

A request's work is a handful of phases, each linear in counts of the plan (``features``):

    base         the request itself: planning, the initial parameters, the interpreter's and
                 BLAS's first allocations
    pass         one recorded pass (a trace; also under /neuron, /export/csv, /gradcheck and
                 /train's include_trace): per forward step, per backward step, per window
                 (one update of P parameters each, dearer for Adam than for SGD), the products
                 (flops ~ 2 H (G (H + D) + K) per step and 2 P per backward step), the events
    passes       /train's iterations: the same pass without its record, ``iterations`` times
    diagnostics  the error and weight flows (one batched backward step per window step,
                 O(T^2) rows), the T x T lists, the per-step norms
    replay       truncation's full-vs-truncated comparison: each window's losses back to t = 1
    jacobian     the exact Jacobian norms: O(T^2 H^3)
    spectral     the spectral radius of every recurrent matrix, of each parameter version, when
                 asked (spectral_radii): one H x H eigenvalue problem each, O(H^3)
    scan         the non-finite scan of everything recorded
    payload      the trace made ready for the API: "norms" (Gram matrices of each window, a
                 few numbers per event) or "full" (every per-step matrix formed), with the
                 norms of the running sums in both (accum_norms), all checked
    json         the response's JSON: the numbers it writes
    csv          the tidy CSV: one row per number
    gradcheck    2 x parameters x backward steps cell steps replayed, each packing parameters
    extras       /train's predictions and continuation
    view         /neuron's tree of one unit's terms

/params (task "params") runs no pass: its cost is the base phase and the JSON of its
parameters and initial state.

Each phase's CPU time and memory are sums of coefficient x feature; the coefficients were
fitted on these machines by ``bench/calibrate_cost.py`` (see ``CALIBRATION``): those of a
cell's own steps (``engine.cell.CELL_COST_FEATURES``: ``steps_lstm``, ...) in the cell's
module (its ``COST``, which every registered cell has), the others here. The whole
estimate carries a margin so that it is above what was measured (the proof is
tests/test_cost_sweep.py). The peak memory is the sum of the phases' own peaks (a phase
frees most of what it takes before the next starts, so the sum is an upper bound), above
the idle process. Pure arithmetic: an estimate takes microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..cells.registry import CELLS
from .plan import Work

Form = Literal["none", "json", "csv", "neuron"]
Detail = Literal["full", "norms", "auto", "summary"]
Features = dict[str, float]

FULL_MARGIN = 1.15  # a full trace is built up to its limit; this model's count may be this far off
BYTES_PER_FLOAT = 8
CONTINUATION = 20  # /train's continuation or forecast: tokens or values after the data


@dataclass(frozen=True)
class Output:
    """What is made of the engine's result, which costs too.

    ``form``: "json" (the API's /trace, /train, /gradcheck), "csv" (/export/csv), "neuron"
    (/neuron's view) or "none" (the engine alone). ``detail``: the trace's "full" matrices,
    their "norms", or "auto" (full while the full trace holds at most ``full_numbers``
    numbers: the server's max_response_bytes over its bytes per number); "summary" (no
    events) is priced as "norms", which it costs less than (its events' norms are not made).
    """

    form: Form = "none"
    detail: Detail = "auto"
    full_numbers: int = 400_000


@dataclass(frozen=True)
class Cost:
    """CPU seconds and peak bytes (above the idle process) of a request, and of each phase;
    and the numbers its response carries (``response_numbers``: the trace's JSON or CSV at
    its detail, "auto" as the server chooses it, and a result's own numbers)."""

    cpu_seconds: float
    peak_bytes: float
    phases: tuple[tuple[str, float, float], ...]  # (phase, CPU seconds, peak bytes)
    response_numbers: float = 0.0

    def fits(self, cpu_seconds: float, peak_bytes: float,
             response_numbers: float = math.inf) -> bool:
        return (self.cpu_seconds <= cpu_seconds and self.peak_bytes <= peak_bytes
                and self.response_numbers <= response_numbers)


# ---------------------------------------------------------------------------------------------
# The coefficients: {phase: {feature: CPU seconds per unit}} and {phase: {feature: bytes per
# unit}}, fitted phase by phase; and the margins (CPU, memory) of the whole estimate: the
# largest measured / fitted ratio of a whole request among the large ones.
# CALIBRATION-BEGIN (written by bench/calibrate_cost.py --write; do not edit by hand)
CALIBRATION = (
    '2026-11-30: bench/calibrate_cost.py, 870 requests in fresh processes on 2 x AMD EPYC, Py'
    'thon 3.11.7, NumPy 2.4.6, OpenBLAS on one thread'
)
CPU: dict[str, dict[str, float]] = {
    'base': {'checks': 3.056e-05, 'inputs': 7.818e-08, 'iteration_windows': 3.844e-06,
        'iterations': 5.529e-05, 'one': 0.01917, 'parameters': 4.742e-08},
    'csv': {'events': 8.364e-05, 'gram': 1.395e-10, 'matrix_rows': 5.951e-07, 'one': 0.001257,
        'rows': 5.564e-07},
    'diagnostics': {'flops': 7.054e-13, 'per_step': 3.905e-08, 'rows': 6.065e-09,
        'squares': 3.953e-08, 'steps': 2.631e-05, 'windows': 1.824e-05},
    'extras': {'iterations': 6.477e-07, 'pack': 9.4e-10, 'steps': 8.526e-06},
    'gradcheck': {'copies': 7.671e-11, 'loss_flops': 3.371e-09, 'losses': 1.254e-05,
        'pack': 8.304e-10, 'replays': 3.588e-06},
    'jacobian': {'flops': 3.588e-11, 'squares': 1.985e-08, 'steps': 2.129e-05},
    'json': {'numbers': 3.696e-08, 'one': 6.353e-05},
    'pass': {'arrays_adagrad': 2.597e-05, 'arrays_adam': 2.193e-05, 'arrays_momentum': 2.074e-05,
        'arrays_sgd': 1.356e-05, 'calls': 0.0009246, 'clip_arrays_value': 2.167e-05,
        'clip_norm': 1.988e-08, 'clip_value': 5.673e-09, 'flops': 2.45e-11, 'one': 0.0009246,
        'pack': 3.696e-09, 'update_adagrad': 6.307e-09, 'update_adam': 2.494e-08,
        'update_momentum': 1.429e-08, 'update_sgd': 1.217e-08, 'windows': 0.000247},
    'passes': {'arrays_adagrad': 1.518e-05, 'arrays_adam': 2.131e-05,
        'arrays_momentum': 1.126e-05, 'arrays_sgd': 1.067e-05, 'clip_arrays_value': 7.193e-06,
        'clip_value': 3.137e-09, 'flops': 5.087e-11, 'one': 0.0031, 'update_adagrad': 7.464e-09,
        'update_adam': 9.426e-09, 'update_momentum': 1.313e-08, 'update_sgd': 1.71e-09,
        'windows': 0.0001027},
    'payload': {'backward_events': 2.207e-06, 'events': 3.104e-05, 'full_numbers': 1.721e-08,
        'gram': 6.316e-11, 'numbers': 2.086e-09, 'windows': 5.613e-05},
    'replay': {'blocks': 2.914e-06, 'flops': 1.395e-10, 'windows': 1.883e-05},
    'scan': {'numbers': 1.214e-09, 'squares': 5.794e-08},
    'view': {'events': 6.615e-07, 'one': 0.0001072},
}
MEMORY: dict[str, dict[str, float]] = {
    'base': {'one': 7.953e+06},
    'csv': {'matrix_rows': 101.2, 'rows': 82.86},
    'diagnostics': {'one': 1.049e+05, 'per_step': 1.639, 'squares': 42.24},
    'extras': {'one': 7.085e+04, 'outputs': 0.2121},
    'gradcheck': {'one': 4419, 'parameters': 3.341},
    'jacobian': {'products': 1.014, 'squares': 6.553},
    'json': {'numbers': 17.98},
    'pass': {'backward': 1.365, 'clip': 1.158, 'events': 206, 'one': 1.039e+06,
        'parameters': 1.817, 'update_adagrad': 0.03818, 'update_adam': 0.08176,
        'update_momentum': 0.01516, 'updates': 2.019, 'windows': 2.508e+04},
    'passes': {'forward': 1.409, 'one': 1.283e+06, 'parameters': 4.278, 'update_adagrad': 3.945,
        'update_adam': 1.729, 'update_momentum': 4.204},
    'payload': {'backward_events': 515.3, 'full_numbers': 1.699, 'gram': 3.838,
        'numbers': 0.6162, 'one': 1.298e+05},
    'replay': {'parameters': 2.132, 'rows': 0.5307},
    'scan': {'one': 2.084e+04, 'squares': 0.3629},
    'view': {'one': 1.506e+04},
}
MARGIN: tuple[float, float] = (1.3, 1.08)
# CALIBRATION-END

# The spectral radii are fitted apart (bench/calibrate_cost.py does not time that phase): CPU
# seconds per NumPy call (one per parameter version), per matrix and per H^3 of a matrix,
# a least-squares fit of np.linalg.eigvals on stacks of 1, 3 and 4 matrices, H = 1 ... 64, one
# OpenBLAS thread on these machines (9.2e-05, 2.5e-05, 4.7e-09), each rounded up.
SPECTRAL_CPU: dict[str, float] = {"versions": 1.0e-04, "matrices": 3.0e-05, "cubes": 6.0e-09}
# A mini-batch's own work, beside its examples' passes (PER_EXAMPLE), set by hand from
# engine.schedule.summed timed on these machines (one OpenBLAS thread): at each window the
# examples' gradients are summed, n arrays per parameter (8.6e-10 s per number at n = 16,
# 6.7e-09 at n = 2, where the first share's copy dominates; about 3.6e-06 s per array), each
# rounded up; and the batch's inputs are stacked from each example's. In memory: every
# example's share of the window's gradient until the update, their sum, and the stacked inputs
# (each example's one-hot rows, then the batch's). bench/bench_cost.py's batch corners hold
# them to the measurements.
BATCH_CPU: dict[str, float] = {"numbers": 1.0e-09, "arrays": 5.0e-06, "inputs": 1.0e-08}


# The phases a mini-batch runs once per example (each example's pass, its records and its
# diagnostics are one sequence's); the output phases count the batch's numbers themselves
# (``trace_numbers``), and planning, the spectral radii and the neuron view are the batch's once.
PER_EXAMPLE = frozenset({"passes", "extras", "pass", "scan", "diagnostics", "replay",
                         "jacobian", "gradcheck"})
# The phases a stack of layers runs once per unit (layer, and direction): each unit's pass,
# records, events and error flow are a one-layer network's of its sizes (layer j >= 2 reads
# H or 2H values where layer 1 reads D: counted as D, an over-estimate when D > 2H). The
# output layer and the Jacobian norms (the top layer's) are counted again with each unit:
# over-estimates too. A gradient check's evaluations (2 per entry of every unit's
# parameters) each replay the window through every unit.
PER_LAYER = PER_EXAMPLE | {"payload", "csv", "json", "view"}


def estimate(work: Work, output: Output = Output()) -> Cost:
    """The CPU seconds and peak memory of ``work`` and of making ``output`` from it.

    "auto" is counted as the dearer of its two sides (full matrices, their norms): which one
    the server sends is decided on the made trace. A full trace is counted at most at the
    response limit's size (one over it is never built), so the estimate grows with every
    count, across that switch too.
    """
    if output.detail == "auto" and output.form in ("json", "csv"):
        full, norms = (estimate(work, replace(output, detail=d)) for d in ("full", "norms"))
        dearer = full if full.cpu_seconds >= norms.cpu_seconds else norms
        return replace(dearer, cpu_seconds=max(full.cpu_seconds, norms.cpu_seconds),
                       peak_bytes=max(full.peak_bytes, norms.peak_bytes),
                       response_numbers=response_numbers(work, output))
    phases = []
    for phase, (cpu_features, memory_features) in features(work, output).items():
        repeats = ((work.examples if phase in PER_EXAMPLE else 1)
                   * (work.units if phase in PER_LAYER else 1))
        coefficients = {"spectral": SPECTRAL_CPU, "batch": BATCH_CPU}.get(phase)
        cpu = repeats * MARGIN[0] * _dot(coefficients or cpu_coefficients(phase, work.cell),
                                         cpu_features)
        memory = repeats * MARGIN[1] * (sum(memory_features.values()) if phase == "batch"
                                        else _dot(MEMORY.get(phase, {}), memory_features))
        phases.append((phase, cpu, memory))
    return Cost(cpu_seconds=sum(p[1] for p in phases), peak_bytes=sum(p[2] for p in phases),
                phases=tuple(phases), response_numbers=response_numbers(work, output))


def response_numbers(work: Work, output: Output) -> float:
    """The numbers the response carries: the trace's (its JSON, or its CSV's rows, one per
    number) at the request's detail ("auto": full while the full trace holds at most
    ``output.full_numbers``, else norms, as the server chooses), and a /train, /gradcheck or
    /params result's own. /neuron's view is one unit's terms (O(H) numbers): not counted."""
    if output.form not in ("json", "csv"):
        return 0.0
    numbers = 0.0
    recorded = work.task == "trace" or work.recorded or output.form == "csv"
    if recorded and not (output.form == "json" and work.task == "gradcheck"):
        full = float(trace_numbers(work, full=True))
        fits = output.detail == "full" or (output.detail == "auto"
                                           and full <= output.full_numbers)
        numbers += full if fits else float(trace_numbers(work, full=False))
    if output.form == "json" and work.task in ("train", "gradcheck"):
        numbers += result_numbers(_Sizes(work))
    if output.form == "json" and work.task == "params":
        numbers += params_numbers(_Sizes(work))
    return numbers


def cpu_coefficients(phase: str, cell: str) -> dict[str, float]:
    """The CPU coefficients of one phase for a request of ``cell``: the shared ones (CPU) and
    the cell's own (its COST, as the features name them: ``steps`` is ``steps_<cell>``)."""
    own = CELLS[cell].COST.get(phase, {})
    return {**CPU.get(phase, {}), **{f"{name}_{cell}": value for name, value in own.items()}}


def _dot(coefficients: dict[str, float], values: Features) -> float:
    return sum(coefficients.get(name, 0.0) * value for name, value in values.items())


# ---------------------------------------------------------------------------------------------
# The features: counts of the work, phase by phase.


def features(work: Work, output: Output = Output(), as_run: bool = False
             ) -> dict[str, tuple[Features, Features]]:
    """{phase: (CPU features, memory features)} of the phases this work and output run.

    ``as_run``: the detail the server will choose, as it chooses it ("auto": full while the
    full trace's numbers are within the limit; an explicit "full" over it builds nothing),
    for fitting the coefficients to measurements; the estimate counts the dearer side.
    """
    sizes = _Sizes(work)
    recorded_pass = (work.task in ("trace", "gradcheck") or work.recorded
                     or output.form in ("csv", "neuron"))
    return {**_work_phases(sizes, output, recorded_pass),
            **_output_phases(sizes, output, recorded_pass, _chosen_detail(work, output, as_run),
                            as_run)}


def _work_phases(sizes: _Sizes, output: Output, recorded_pass: bool
                 ) -> dict[str, tuple[Features, Features]]:
    """The computation's phases: planning, /train's passes, the recorded pass and its scan,
    the diagnostics (with the replay of a truncated pass, the Jacobian norms), /gradcheck."""
    work = sizes.work
    out: dict[str, tuple[Features, Features]] = {"base": base_features(sizes)}
    diagnostics = work.diagnostics and output.form != "neuron" and work.task != "gradcheck"
    if work.task == "train" or (work.task == "sample" and work.iterations):
        out["passes"] = pass_features(sizes, recorded=False)
    if work.task in ("train", "sample"):
        out["extras"] = extras_features(sizes)
    if recorded_pass:
        out["pass"] = pass_features(sizes, recorded=True)
        out["scan"] = scan_features(sizes, diagnostics)
    if recorded_pass and diagnostics:
        out["diagnostics"] = diagnostics_features(sizes)
        if work.truncated:
            out["replay"] = replay_features(sizes)
        if work.jacobian_norms:
            out["jacobian"] = jacobian_features(sizes)
    if recorded_pass and work.spectral_matrices:
        out["spectral"] = spectral_features(sizes)
    if work.examples > 1:
        out["batch"] = batch_features(sizes, recorded_pass)
    if work.task == "gradcheck":
        out["gradcheck"] = gradcheck_features(sizes)
    return out


def _chosen_detail(work: Work, output: Output, as_run: bool) -> str | None:
    """The detail counted: as the server decides on the made trace (``as_run``), else the
    full side of "auto" (estimate() takes the dearer of the two); None when nothing is built
    (an explicit "full" over the limit)."""
    detail: str | None = output.detail
    if as_run and detail not in ("norms", "summary"):
        fits_limit = trace_numbers(work, full=True) <= output.full_numbers
        return "full" if fits_limit else ("norms" if detail == "auto" else None)
    return "full" if detail == "auto" else detail


def _output_phases(sizes: _Sizes, output: Output, recorded_pass: bool, detail: str | None,
                   as_run: bool) -> dict[str, tuple[Features, Features]]:
    """Making the response: the trace's payload or CSV, the neuron view, the JSON."""
    work = sizes.work
    out: dict[str, tuple[Features, Features]] = {}
    full_numbers = _full_numbers(work, output)
    json_numbers = 0.0
    if recorded_pass and output.form == "json" and work.task != "gradcheck" and detail:
        out["payload"] = payload_features(sizes, detail, full_numbers)
        json_numbers += (full_numbers if detail == "full"
                         else float(trace_numbers(work, full=False)))
    if recorded_pass and output.form == "csv" and detail:
        out["csv"] = csv_features(sizes, detail, full_numbers, as_run)
    if output.form == "neuron":
        out["view"] = ({"one": 1.0, "events": sizes.events}, {"one": 1.0})
    if output.form == "json" and work.task in ("train", "gradcheck"):
        json_numbers += result_numbers(sizes)
    if output.form == "json" and work.task == "params":
        json_numbers += params_numbers(sizes)
    if output.form == "json" and work.task == "sample":
        json_numbers += sample_numbers(sizes)
    if output.form in ("json", "neuron"):
        out["json"] = ({"one": 1.0, "numbers": json_numbers},
                       {"one": 1.0, "numbers": json_numbers})
    return out


def _full_numbers(work: Work, output: Output) -> float:
    """The numbers of the full trace, as far as a full payload is ever built."""
    return float(min(trace_numbers(work, full=True), output.full_numbers * FULL_MARGIN))


class _Sizes:
    """The sizes and counts the features are made of."""

    def __init__(self, work: Work) -> None:
        cell = CELLS[work.cell]
        self.work = work
        G, H, D, K = work.gates, work.H, work.D, work.K
        self.T, self.B, self.W, self.P = (work.T, work.backward_steps, work.windows,
                                          work.parameters)
        self.G, self.H, self.D, self.K = G, H, D, K
        self.names = len(cell.PARAMS) + 2  # every parameter's name, V and b_y included
        # numbers a cell's pack copies (gated cells stack their gates; the RNN's are views)
        self.packed = G * H * (H + D + 1) if G > 1 else 0
        # floats recorded per forward and per backward step (the stacks of both passes)
        self.forward_floats = 4 * G * H + 4 * H + 3 * K
        self.backward_floats = G * H + 7 * H + K + D
        self.step_flops = 2.0 * (G * H * (H + D) + K * H)  # one step's products
        self.events = self.T + self.B + self.W
        self.longest = min(max(work.k2, 1), self.T)  # the longest window
        self.iterations = work.iterations


def base_features(s: _Sizes) -> tuple[Features, Features]:
    """Planning, the initial parameters and inputs; /train's loop around its passes (each
    pass's mean gradient norm over its updates); /gradcheck's comparison of each window's
    gradients."""
    train, check = s.work.task == "train", s.work.task == "gradcheck"
    return ({"one": 1.0, "parameters": s.P, "inputs": s.T * s.D,
             "iterations": float(s.iterations) if train else 0.0,
             "iteration_windows": float(s.iterations * s.W) if train else 0.0,
             "checks": float(s.W * s.names) if check else 0.0},
            {"one": 1.0, "parameters": BYTES_PER_FLOAT * s.P,
             "inputs": BYTES_PER_FLOAT * s.T * s.D})


def pass_features(s: _Sizes, recorded: bool) -> tuple[Features, Features]:
    """One pass (``recorded``), or /train's passes (all of them for the CPU time; one at a
    time in memory: an unrecorded pass keeps only what its next windows need)."""
    work = s.work
    # a bugged trace runs the true pass beside it, to say where the two part
    times = (2.0 if work.bug else 1.0) if recorded else float(s.iterations)
    updates = s.W * s.P
    # a cell's step is a dozen NumPy calls (more for a GRU than an RNN); an update is a few
    # calls per parameter array and a few passes over its P numbers (more for Adam)
    cpu = {
        "calls": 1.0, f"steps_{work.cell}": s.T, f"backward_steps_{work.cell}": s.B,
        "windows": s.W, f"arrays_{work.optimizer}": s.W * s.names,
        f"update_{work.optimizer}": updates, "pack": s.W * s.packed,
        f"clip_{work.clip}": updates if work.clip else 0.0,  # norm: one pass; value: three
        f"clip_arrays_{work.clip}": s.W * s.names if work.clip else 0.0,
        "flops": s.step_flops * (s.T + s.B) + 2.0 * s.B * s.P,
    }
    cpu = {name: times * value for name, value in cpu.items()}
    cpu["one"] = 1.0  # the first pass of a process: its first calls into NumPy
    optimizer = f"update_{work.optimizer}"
    if not recorded:
        return cpu, {"one": 1.0, "forward": BYTES_PER_FLOAT * s.T * s.forward_floats,
                     "window": BYTES_PER_FLOAT * s.longest * s.backward_floats,
                     "parameters": BYTES_PER_FLOAT * s.P,
                     optimizer: BYTES_PER_FLOAT * s.P}  # the optimizer's buffers
    cpu["events"] = s.events
    memory = {
        "one": 1.0, "forward": BYTES_PER_FLOAT * s.T * s.forward_floats,
        "backward": BYTES_PER_FLOAT * s.B * s.backward_floats,
        "updates": BYTES_PER_FLOAT * updates,  # each update's gradient and parameters
        optimizer: BYTES_PER_FLOAT * updates,  # and what its rule leaves in the heap
        "clip": BYTES_PER_FLOAT * updates if work.clip else 0.0,  # and its clipped gradient
        "parameters": BYTES_PER_FLOAT * s.P, "windows": s.W, "events": s.events,
    }
    return cpu, memory


def scan_features(s: _Sizes, diagnostics: bool) -> tuple[Features, Features]:
    recorded = s.T * s.forward_floats + s.B * s.backward_floats + 2 * s.W * s.P
    squares = float(s.T * s.T) * _matrices(s.work) if diagnostics else 0.0
    return ({"numbers": recorded, "squares": squares},
            {"one": 1.0, "squares": BYTES_PER_FLOAT * squares})


def _matrices(work: Work) -> int:
    """The T x T diagnostics: error flow, weight flow, and the Jacobian norms when asked."""
    return 3 if work.jacobian_norms else 2


def diagnostics_features(s: _Sizes) -> tuple[Features, Features]:
    work = s.work
    rows = float(work.flow_rows)
    return ({"steps": work.flow_steps, "rows": rows * s.G * s.H,
             "flops": 2.0 * rows * s.G * s.H * s.H, "squares": 2.0 * s.T * s.T,
             "per_step": s.T * (s.G * s.H + s.D + s.K), "windows": s.W},
            {"one": 1.0, "squares": 2.0 * s.T * s.T,
             "rows": BYTES_PER_FLOAT * s.longest * (s.longest + s.G * s.H),
             "per_step": BYTES_PER_FLOAT * s.T * (s.G * s.H + s.D + s.K)})


def replay_features(s: _Sizes) -> tuple[Features, Features]:
    replay = float(s.work.replay_steps)
    # each window's rows from t = 1 are joined from the forward blocks (one per k1 steps)
    return ({"windows": s.W, f"steps_{s.work.cell}": replay,
             "blocks": replay / max(s.work.k1, 1),
             "flops": 2.0 * replay * (s.P + s.G * s.H * s.H),
             "copies": replay * (s.forward_floats + s.backward_floats)},
            {"one": 1.0, "rows": BYTES_PER_FLOAT * s.T * (s.forward_floats + s.backward_floats),
             "parameters": BYTES_PER_FLOAT * s.P})


def jacobian_features(s: _Sizes) -> tuple[Features, Features]:
    H3 = float(s.H) ** 3
    return ({"steps": s.T, "flops": s.T * s.T * H3 + 2.0 * s.T * s.G * H3,
             "squares": float(s.T * s.T)},
            {"one": 1.0, "products": BYTES_PER_FLOAT * 2.0 * s.T * s.H * s.H,
             "squares": float(s.T * s.T)})


def batch_features(s: _Sizes, recorded: bool) -> tuple[Features, Features]:
    """A mini-batch's own work: summing the examples' shares at each window of every pass
    (CPU seconds by BATCH_CPU), and its memory in bytes (the shares held until the update,
    their sum, the batch's inputs stacked from each example's)."""
    n, work = s.work.examples, s.work
    passes = (float(s.iterations) if work.task in ("train", "sample") else 0.0) + (
        1.0 if recorded else 0.0)
    windows = passes * s.W
    return ({"numbers": windows * n * s.P, "arrays": windows * n * s.names,
             "inputs": float(n * s.T * s.D)},
            {"shares": BYTES_PER_FLOAT * (n + 1) * s.P,
             "inputs": BYTES_PER_FLOAT * 2 * n * s.T * s.D})


def spectral_features(s: _Sizes) -> tuple[Features, Features]:
    """One eigenvalue problem per recurrent matrix of each version (engine.params): a call
    per version on its stack of matrices; the memory is one stack and its eigenvalues."""
    matrices = float(s.work.spectral_matrices)
    versions = float(s.W + 1)
    return ({"versions": versions, "matrices": matrices, "cubes": matrices * float(s.H) ** 3},
            {"one": 1.0})


def payload_features(s: _Sizes, detail: str, full_numbers: float
                     ) -> tuple[Features, Features]:
    """The trace made ready for JSON: its matrices formed ("full", ``full_numbers``
    numbers) or reduced to norms ("norms"), every number checked for finiteness."""
    # the norms of every window's running sums (accum_norms, in either detail; with "norms"
    # also accum's), one table per window and parameter (engine.norms.running_norms)
    norms = {"windows": s.W * s.names, "gram": float(s.work.window_squares) * _gram_width(s)}
    if detail == "full":
        return ({"full_numbers": full_numbers, "events": s.events,
                 "backward_events": s.B * s.names, **norms},
                {"one": 1.0, "full_numbers": BYTES_PER_FLOAT * full_numbers,
                 "running": BYTES_PER_FLOAT * s.longest * s.P,
                 "backward_events": s.B * s.names})
    numbers = float(trace_numbers(s.work, full=False))
    return ({"numbers": numbers, "events": s.events, "backward_events": s.B * s.names,
             **norms},
            {"one": 1.0, "numbers": BYTES_PER_FLOAT * numbers,
             "backward_events": s.B * s.names,
             "gram": BYTES_PER_FLOAT * s.longest * s.longest})


def _gram_width(s: _Sizes) -> float:
    """Sum over the parameters of the widths of their two factors (left and right rows):
    the cost per entry of the two Gram matrices the norms of running sums take."""
    widths = {"h": s.H, "h_prev": s.H, "rh_prev": s.H, "x": s.D, None: 0}
    cell = CELLS[s.work.cell]
    # a diagonal parameter's running sums are H numbers per row, as a bias's
    total = sum(s.H + widths.get(None if spec.kind == "diagonal" else spec.right, s.H)
                for spec in cell.PARAMS.values())
    return float(total + 2 * s.K + s.H)


def csv_features(s: _Sizes, detail: str, full_numbers: float, as_run: bool = False
                 ) -> tuple[Features, Features]:
    """One row per number: the vectors of every event, and the parameter-shaped matrices
    (each of their numbers with "full", their norms with "norms"). The estimate counts all
    of a full trace's numbers as matrix rows on top of the vectors (so that it grows with
    every count); ``as_run``, the matrices alone."""
    vectors = float(trace_numbers(s.work, full=False))
    matrices = 0.0
    if detail == "full":
        matrices = max(full_numbers - vectors, 0.0) if as_run else full_numbers
    # the norms of every window's running sums (accum_norms in both details)
    cpu = {"one": 1.0, "rows": vectors, "matrix_rows": matrices, "events": s.events,
           "gram": float(s.work.window_squares) * _gram_width(s)}
    return cpu, {"one": 1.0, "rows": vectors, "matrix_rows": matrices}


def gradcheck_features(s: _Sizes) -> tuple[Features, Features]:
    """Every parameter entry is moved by +-eps and each window replayed (``replays``): each
    replay copies the moved parameter per version and steps its window forward, one
    evaluation per step (a pack of the parameters, the input's projection, the cell's step),
    with the loss at the injected steps."""
    work = s.work
    evaluations = float(work.evaluations)
    replays = 2.0 * s.P * s.W
    losses = 2.0 * s.P * (s.T if work.loss_at == "every" else 1)
    spec_sizes = [math.prod(spec.size(s.H, s.D, s.K)) for spec in CELLS[work.cell].PARAMS.values()]
    squares = float(sum(n * n for n in spec_sizes) + (s.K * s.H) ** 2 + s.K ** 2)
    versions = min(s.W, -(-max(work.k2 - 1, 0) // max(work.k1, 1)) + 1)
    return ({f"evaluations_{work.cell}": evaluations, "pack": evaluations * s.packed,
             "flops": evaluations * 2.0 * s.G * s.H * (s.H + s.D), "replays": replays,
             "losses": losses, "loss_flops": losses * s.K * (s.H + 1),
             "copies": 2.0 * s.W * versions * squares},
            {"one": 1.0, "parameters": BYTES_PER_FLOAT * s.P})


def extras_features(s: _Sizes) -> tuple[Features, Features]:
    """/train's predictions and continuation (also run by a sample that trains), and a
    sample's own steps (engine.sample: its length, teacher forcing and free running), one
    cell step and output each."""
    work = s.work
    trained = work.task == "train" or work.iterations > 0
    tokens = CONTINUATION if trained else 0
    steps = (s.T + tokens if trained else 0) + work.sample_steps
    return ({"steps": steps, "pack": tokens * (s.packed + s.P),
             "flops": steps * s.step_flops, "iterations": s.iterations},
            {"one": 1.0, "outputs": BYTES_PER_FLOAT * (s.T + work.sample_steps) * s.K})


def result_numbers(s: _Sizes) -> float:
    """The numbers of a /train or /gradcheck result besides a trace."""
    return float(s.P + s.T * (s.K + 1) + 3 * s.iterations)


def sample_numbers(s: _Sizes) -> float:
    """The numbers and tokens of a /sample result: per written token its probability and
    the top 5 (token, p) pairs; per step of the text six lists (engine.sample)."""
    length = s.work.sample_steps - 2 * s.T
    return float(length * 12 + 6 * s.T + s.K + 8)


def params_numbers(s: _Sizes) -> float:
    """The numbers of a /params result: the parameters and the initial state (h0, and c0
    for the LSTM). The work before them is the base phase's (planning, the seeded draw, the
    spectral radius's eigenvalues of the H x H recurrent matrices)."""
    return float(s.P + len(CELLS[s.work.cell].STATE) * s.H)


# ---------------------------------------------------------------------------------------------
# How many numbers a trace's JSON holds.


def trace_numbers(work: Work, full: bool) -> int:
    """The numbers of the trace's JSON: with every per-step matrix (``full``) or with their
    norms (app/endpoints/detail.py's ``estimate_full_bytes`` counts the same from a made trace)."""
    cell = CELLS[work.cell]
    T, B, W, P = work.T, work.backward_steps, work.windows, work.parameters
    G, H, D, K = work.gates, work.H, work.D, work.K
    names = len(cell.PARAMS) + 2
    matrix = P if full else names  # one parameter-shaped field: its numbers, or its norms
    gates = len(cell.GATES)
    forward = (D + 2 * H + (G * H + G if gates else H) + (gates * (H + 1) if gates else 1)
               + 2 * K + len(cell.RECORDED) * H + 7)
    # contrib and accum (their numbers or norms, and their keys), and accum_norms
    backward = K + 4 * H + G * H + G + len(cell.BACKWARD_RECORDED) * H + D + 7 + 2 * (
        matrix + names) + 2 * names
    update = 3 + 7 + len(cell.STATE) * H + 4 * (matrix + names)
    diagnostics = (_matrices(work) * T * T + T + 8) if work.diagnostics else 1
    rest = 60 + D + T * D + T * (K + 2) + 6 * W + diagnostics + matrix + names
    # a mini-batch: every example's events, inputs, targets, losses and diagnostics, its
    # shares of each update and its dL/d(state before the window)
    n = work.examples
    shares = (n * (matrix + names + 3) + (n - 1) * len(cell.STATE) * H) if n > 1 else 0
    # a stack: each layer's events and diagnostics, and its parameters in every update
    return work.units * (n * (T * forward + B * backward + rest) + W * (update + shares))


# ---------------------------------------------------------------------------------------------
# What to reduce: the fields that bring a request within a budget, and how far.


@dataclass(frozen=True)
class Reduction:
    """One change of the request that brings its cost within the budget.

    ``field``: "iterations", "jacobian_norms", "spectral_radii", "detail", "truncation.k2",
    "truncation.k1", "diagnostics", "examples" (a mini-batch's sequences), "num_layers",
    "hidden_size" or
    "steps" (the data's length, T); ``value``:
    the largest value that fits (the smallest for truncation.k1; False for the switches;
    "norms" for detail). When no single field is enough, "hidden_size+steps" with the value
    "H,T" (both cut in the same proportion), or "<field>+iterations" with
    "<value>,<iterations>".
    """

    field: str
    value: int | bool | str
    cost: Cost


def reductions(work: Work, output: Output, cpu_seconds: float, peak_bytes: float,
               numbers: float = math.inf) -> list[Reduction]:
    """The changes of one field that make the request fit the budgets (CPU seconds, peak
    bytes, and the numbers of its response), the field that drives the cost first: /train's
    iterations, then the costly options (the Jacobian norms, full detail), the truncation,
    the diagnostics, the hidden size, the data's length. Each numeric field is moved as
    little as fits (binary search: the cost grows with each).

    When no one field is enough: the hidden size and the length cut in the same proportion
    ("hidden_size+steps"); for /train, one of the changes above that makes a single pass fit,
    with the most iterations that then fit ("<field>+iterations", value "<value>,<n>").
    """
    def fits(candidate: Work, out: Output = output) -> Cost | None:
        cost = estimate(candidate, out)
        return cost if cost.fits(cpu_seconds, peak_bytes, numbers) else None

    found: list[Reduction] = []
    if work.task == "train" and work.iterations > 1:
        n = _largest(1, work.iterations - 1, lambda n: fits(_recount(work, iterations=n)))
        cost = fits(_recount(work, iterations=n)) if n is not None else None
        if n is not None and cost is not None:
            found.append(Reduction("iterations", n, cost))
    training = work.task == "train" and work.iterations > 1
    # a long /train is cut in iterations and something else before both sizes at once
    found += [Reduction(field, value, cost)
              for field, value, _, cost in _changes(work, output, fits, pair=not training)]
    if not found and training:
        for field, value, changed, _ in _changes(_recount(work, iterations=1), output, fits):
            def passes(n: int, changed: Work = changed) -> Cost | None:
                return fits(_recount(changed, iterations=n))

            n = _largest(1, work.iterations - 1, passes)
            cost = passes(n) if n is not None else None
            if cost is not None:
                found.append(Reduction(f"{field}+iterations", f"{value},{n}", cost))
    return found


def _changes(work: Work, output: Output, fits: Callable[..., Cost | None], pair: bool = True
             ) -> list[tuple[str, int | bool | str, Work, Cost]]:
    """(field, value, the changed work, its cost) of each one-field change that fits, in the
    order of ``reductions`` (the detail changes the output, not the work); ``pair``: when
    none does, the hidden size and the length in the same proportion."""
    found: list[tuple[str, int | bool | str, Work, Cost]] = []

    def consider(field: str, value: int | bool | str, changed: Work,
                 out: Output = output) -> None:
        cost = fits(changed, out)
        if cost is not None:
            found.append((field, value, changed, cost))

    if work.jacobian_norms:
        consider("jacobian_norms", False, _recount(work, jacobian_norms=False))
    if work.spectral_matrices:
        consider("spectral_radii", False, _recount(work, spectral_radii=False))
    if output.detail not in ("norms", "summary") and output.form in ("json", "csv"):
        consider("detail", "norms", work, Output(output.form, "norms", output.full_numbers))
    if work.truncated and work.k2 > work.k1:
        k2 = _largest(work.k1, work.k2 - 1, lambda k: fits(_recount(work, k2=k)))
        if k2 is not None:
            consider("truncation.k2", k2, _recount(work, k2=k2))
    if work.truncated and work.k1 < work.T:
        k1 = _smallest(work.k1 + 1, work.T,
                       lambda k: fits(_recount(work, k1=k, k2=max(work.k2, k))))
        if k1 is not None:
            consider("truncation.k1", k1, _recount(work, k1=k1, k2=max(work.k2, k1)))
    if work.diagnostics and work.recorded:
        consider("diagnostics", False, _recount(work, diagnostics=False, jacobian_norms=False))
    if work.examples > 1:  # a mini-batch of fewer sequences
        n = _largest(1, work.examples - 1, lambda n: fits(_recount(work, examples=n)))
        if n is not None:
            consider("examples", n, _recount(work, examples=n))
    if work.layers > 1:  # a shallower stack
        n = _largest(1, work.layers - 1, lambda n: fits(_recount(work, layers=n)))
        if n is not None:
            consider("num_layers", n, _recount(work, layers=n))
    if work.H > 1:
        h = _largest(1, work.H - 1, lambda h: fits(_recount(work, H=h)))
        if h is not None:
            consider("hidden_size", h, _recount(work, H=h))
    if work.T > 1:
        t = _largest(1, work.T - 1, lambda t: fits(_recount(work, T=t)))
        if t is not None:
            consider("steps", t, _recount(work, T=t))
    if pair and not found and (work.H > 1 or work.T > 1):  # both, in the same proportion
        def both(percent: int) -> Work:
            return _recount(work, H=max(1, work.H * percent // 100),
                            T=max(1, work.T * percent // 100))

        percent = _largest(1, 99, lambda p: fits(both(p)))
        if percent is not None:
            smaller = both(percent)
            consider("hidden_size+steps", f"{smaller.H},{smaller.T}", smaller)
    return found


def _recount(work: Work, **changes: int | bool) -> Work:
    """The work of the same request with some fields changed (k1 and k2 as asked, the
    rest as planned)."""
    from .plan import count_work

    fields: dict[str, Any] = {
        "task": work.task, "cell": work.cell, "T": work.T, "D": work.D, "H": work.H,
        "K": work.K, "k1": work.k1, "k2": work.k2, "truncated": work.truncated,
        "loss_at": work.loss_at, "iterations": work.iterations,
        "include_trace": work.recorded and work.task == "train",
        "diagnostics": work.diagnostics, "jacobian_norms": work.jacobian_norms,
        "spectral_radii": work.spectral_matrices > 0,
        "optimizer": work.optimizer, "clip": work.clip, "bug": work.bug,
        "sample_steps": work.sample_steps, "examples": work.examples, "layers": work.layers,
        "bidirectional": work.bidirectional, **changes}
    if not fields["truncated"]:  # full BPTT over the new length
        fields["k1"] = fields["k2"] = fields["T"]
    task, cell, T, D, H, K = (fields.pop(name) for name in ("task", "cell", "T", "D", "H",
                                                            "K"))
    return count_work(task, cell, T, D, H, K, **fields)


def _largest(low: int, high: int, fits: Callable[[int], Cost | None]) -> int | None:
    """The largest n in low..high for which ``fits(n)``, the cost growing with n."""
    if high < low or fits(low) is None:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle) is not None:
            low = middle
        else:
            high = middle - 1
    return low


def _smallest(low: int, high: int, fits: Callable[[int], Cost | None]) -> int | None:
    """The smallest n in low..high for which ``fits(n)``, the cost falling as n grows."""
    if high < low or fits(high) is None:
        return None
    while low < high:
        middle = (low + high) // 2
        if fits(middle) is not None:
            high = middle
        else:
            low = middle + 1
    return low
