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
    scan         the non-finite scan of everything recorded
    payload      the trace made ready for the API: "norms" (Gram matrices of each window, a
                 few numbers per event) or "full" (every per-step matrix formed), all checked
    json         the response's JSON: the numbers it writes
    csv          the tidy CSV: one row per number
    gradcheck    2 x parameters x backward steps cell steps replayed, each packing parameters
    extras       /train's predictions and continuation
    view         /neuron's tree of one unit's terms

Each phase's CPU time and memory are sums of coefficient x feature; the coefficients were
fitted on these machines by ``bench/calibrate_cost.py`` (see ``CALIBRATION``), and the whole
estimate carries a margin so that it is above what was measured (the proof is
tests/test_cost_sweep.py). The peak memory is the sum of the phases' own peaks (a phase
frees most of what it takes before the next starts, so the sum is an upper bound), above
the idle process. Pure arithmetic: an estimate takes microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .cells import CELLS
from .plan import Work

Form = Literal["none", "json", "csv", "neuron"]
Detail = Literal["full", "norms", "auto"]
Features = dict[str, float]

FULL_MARGIN = 1.15  # "auto" near its limit: the estimate of the full size may be this far off
BYTES_PER_FLOAT = 8
CONTINUATION = 20  # /train's continuation or forecast: tokens or values after the data


@dataclass(frozen=True)
class Output:
    """What is made of the engine's result, which costs too.

    ``form``: "json" (the API's /trace, /train, /gradcheck), "csv" (/export/csv), "neuron"
    (/neuron's view) or "none" (the engine alone). ``detail``: the trace's "full" matrices,
    their "norms", or "auto" (full while the full trace holds at most ``full_numbers``
    numbers: the server's max_response_bytes over its bytes per number).
    """

    form: Form = "none"
    detail: Detail = "auto"
    full_numbers: int = 400_000


@dataclass(frozen=True)
class Cost:
    """CPU seconds and peak bytes (above the idle process) of a request, and of each phase."""

    cpu_seconds: float
    peak_bytes: float
    phases: tuple[tuple[str, float, float], ...]  # (phase, CPU seconds, peak bytes)

    def fits(self, cpu_seconds: float, peak_bytes: float) -> bool:
        return self.cpu_seconds <= cpu_seconds and self.peak_bytes <= peak_bytes


# ---------------------------------------------------------------------------------------------
# The coefficients: {phase: {feature: CPU seconds per unit}} and {phase: {feature: bytes per
# unit}}, fitted phase by phase; and the margins (CPU, memory) the whole estimate is multiplied
# by: the largest measured / fitted ratio of a whole request among those calibrated.
# CALIBRATION-BEGIN (written by bench/calibrate_cost.py --write; do not edit by hand)
CALIBRATION = "not yet calibrated"
CPU: dict[str, dict[str, float]] = {}
MEMORY: dict[str, dict[str, float]] = {}
MARGIN: tuple[float, float] = (1.0, 1.0)
# CALIBRATION-END


def estimate(work: Work, output: Output = Output()) -> Cost:
    """The CPU seconds and peak memory of ``work`` and of making ``output`` from it."""
    phases = []
    cpu_margin, memory_margin = MARGIN
    for phase, (cpu_features, memory_features) in features(work, output).items():
        cpu = cpu_margin * _dot(CPU.get(phase, {}), cpu_features)
        memory = memory_margin * _dot(MEMORY.get(phase, {}), memory_features)
        phases.append((phase, cpu, memory))
    return Cost(cpu_seconds=sum(p[1] for p in phases), peak_bytes=sum(p[2] for p in phases),
                phases=tuple(phases))


def _dot(coefficients: dict[str, float], values: Features) -> float:
    return sum(coefficients.get(name, 0.0) * value for name, value in values.items())


# ---------------------------------------------------------------------------------------------
# The features: counts of the work, phase by phase.


def features(work: Work, output: Output = Output()) -> dict[str, tuple[Features, Features]]:
    """{phase: (CPU features, memory features)} of the phases this work and output run."""
    sizes = _Sizes(work)
    out: dict[str, tuple[Features, Features]] = {"base": base_features(sizes)}
    recorded_pass = (work.task in ("trace", "gradcheck") or work.recorded
                     or output.form in ("csv", "neuron"))
    diagnostics = work.diagnostics and output.form != "neuron" and work.task != "gradcheck"
    if work.task == "train":
        out["passes"] = pass_features(sizes, recorded=False)
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
    if work.task == "gradcheck":
        out["gradcheck"] = gradcheck_features(sizes)
    detail = payload_detail(work, output) if recorded_pass else None
    json_numbers = 0.0
    if output.form == "json" and work.task != "gradcheck" and detail:
        out["payload"] = payload_features(sizes, detail)
        json_numbers += max(trace_numbers(work, full=d == "full") for d in _details(detail))
    if output.form == "csv" and detail:
        out["csv"] = csv_features(sizes, detail)
    if output.form == "neuron":
        out["view"] = ({"one": 1.0, "events": sizes.events}, {"one": 1.0})
    if output.form == "json" and work.task in ("train", "gradcheck"):
        json_numbers += result_numbers(sizes)
    if output.form in ("json", "neuron"):
        out["json"] = ({"one": 1.0, "numbers": json_numbers},
                       {"one": 1.0, "numbers": json_numbers})
    return out


def _details(detail: str) -> tuple[str, ...]:
    return ("full", "norms") if detail == "both" else (detail,)


def payload_detail(work: Work, output: Output) -> str | None:
    """The detail the payload is built with: "full", "norms", "both" (an "auto" too close to
    its limit to tell: the dearer of the two is counted) or None (an explicit "full" far over
    the limit: refused once the trace is made, before any payload)."""
    if output.detail == "norms":
        return "norms"
    numbers = trace_numbers(work, full=True)
    if numbers * FULL_MARGIN <= output.full_numbers:
        return "full"
    if numbers <= output.full_numbers * FULL_MARGIN:
        return "both" if output.detail == "auto" else "full"
    return "norms" if output.detail == "auto" else None


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
    """Planning, the initial parameters and inputs, /train's loop around its passes."""
    iterations = float(s.iterations) if s.work.task == "train" else 0.0
    return ({"one": 1.0, "parameters": s.P, "inputs": s.T * s.D, "iterations": iterations},
            {"one": 1.0, "parameters": BYTES_PER_FLOAT * s.P,
             "inputs": BYTES_PER_FLOAT * s.T * s.D})


def pass_features(s: _Sizes, recorded: bool) -> tuple[Features, Features]:
    """One pass (``recorded``), or /train's passes (all of them for the CPU time; one at a
    time in memory: an unrecorded pass keeps only what its next windows need)."""
    work = s.work
    times = 1.0 if recorded else float(s.iterations)
    updates = s.W * s.P
    # a cell's step is a dozen NumPy calls (more for a GRU than an RNN); an update is a few
    # calls per parameter array and a few passes over its P numbers (more for Adam)
    cpu = {
        "calls": 1.0, f"steps_{work.cell}": s.T, f"backward_steps_{work.cell}": s.B,
        "windows": s.W, f"arrays_{work.optimizer}": s.W * s.names,
        f"update_{work.optimizer}": updates, "pack": s.W * s.packed,
        "clip": updates if work.clip else 0.0,
        "clip_arrays": s.W * s.names if work.clip else 0.0,
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
    return ({"windows": s.W, "steps": replay,
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


def payload_features(s: _Sizes, detail: str) -> tuple[Features, Features]:
    """The trace made ready for JSON: its matrices formed ("full") or reduced to norms
    ("norms"), every number checked for finiteness; "both": the dearer of the two."""
    if detail == "both":
        norms, full = payload_features(s, "norms"), payload_features(s, "full")
        return ({k: max(norms[0].get(k, 0.0), full[0].get(k, 0.0))
                 for k in {*norms[0], *full[0]}},
                {k: max(norms[1].get(k, 0.0), full[1].get(k, 0.0))
                 for k in {*norms[1], *full[1]}})
    numbers = float(trace_numbers(s.work, full=detail == "full"))
    if detail == "full":
        return ({"full_numbers": numbers, "events": s.events},
                {"one": 1.0, "full_numbers": BYTES_PER_FLOAT * numbers,
                 "running": BYTES_PER_FLOAT * s.longest * s.P,
                 "backward_events": s.B * s.names})
    return ({"numbers": numbers, "events": s.events, "backward_events": s.B * s.names,
             "windows": s.W * s.names,
             "gram": float(s.work.window_squares) * _gram_width(s)},
            {"one": 1.0, "numbers": BYTES_PER_FLOAT * numbers,
             "backward_events": s.B * s.names,
             "gram": BYTES_PER_FLOAT * s.longest * s.longest})


def _gram_width(s: _Sizes) -> float:
    """Sum over the parameters of the widths of their two factors (left and right rows):
    the cost per entry of the two Gram matrices the norms of running sums take."""
    widths = {"h": s.H, "h_prev": s.H, "rh_prev": s.H, "x": s.D, None: 0}
    cell = CELLS[s.work.cell]
    total = sum(s.H + widths.get(spec.right, s.H) for spec in cell.PARAMS.values())
    return float(total + 2 * s.K + s.H)


def csv_features(s: _Sizes, detail: str) -> tuple[Features, Features]:
    if detail == "both":
        detail = "full"  # a row per number: the full table is the longer one
    rows = float(trace_numbers(s.work, full=detail == "full"))
    cpu = {"rows": rows, "events": s.events}
    if detail == "norms":
        cpu["gram"] = float(s.work.window_squares) * _gram_width(s)
    return cpu, {"one": 1.0, "rows": rows}


def gradcheck_features(s: _Sizes) -> tuple[Features, Features]:
    """Each evaluation replays one cell step: it packs the perturbed parameters, projects the
    input and steps forward (the loss when injected); each entry copies its parameter."""
    work = s.work
    evaluations = float(work.evaluations)
    spec_sizes = [math.prod(spec.size(s.H, s.D, s.K)) for spec in CELLS[work.cell].PARAMS.values()]
    squares = float(sum(n * n for n in spec_sizes) + (s.K * s.H) ** 2 + s.K ** 2)
    versions = min(s.W, -(-max(work.k2 - 1, 0) // max(work.k1, 1)) + 1)
    return ({f"evaluations_{work.cell}": evaluations, "pack": evaluations * s.packed,
             "flops": evaluations * s.step_flops, "copies": 2.0 * s.W * versions * squares,
             "parameters": float(s.W * s.names)},
            {"one": 1.0, "parameters": BYTES_PER_FLOAT * s.P})


def extras_features(s: _Sizes) -> tuple[Features, Features]:
    steps = s.T + CONTINUATION
    return ({"steps": steps, "pack": CONTINUATION * (s.packed + s.P),
             "flops": steps * s.step_flops, "iterations": s.iterations},
            {"one": 1.0, "outputs": BYTES_PER_FLOAT * s.T * s.K})


def result_numbers(s: _Sizes) -> float:
    """The numbers of a /train or /gradcheck result besides a trace."""
    return float(s.P + s.T * (s.K + 1) + 3 * s.iterations)


# ---------------------------------------------------------------------------------------------
# How many numbers a trace's JSON holds.


def trace_numbers(work: Work, full: bool) -> int:
    """The numbers of the trace's JSON: with every per-step matrix (``full``) or with their
    norms (app.service's ``estimate_full_bytes`` counts the same from a made trace)."""
    cell = CELLS[work.cell]
    T, B, W, P = work.T, work.backward_steps, work.windows, work.parameters
    G, H, D, K = work.gates, work.H, work.D, work.K
    names = len(cell.PARAMS) + 2
    matrix = P if full else names  # one parameter-shaped field: its numbers, or its norms
    gates = len(cell.GATES)
    forward = (D + 2 * H + (G * H + G if gates else H) + (gates * (H + 1) if gates else 1)
               + 2 * K + len(cell.RECORDED) * H + 7)
    backward = K + 4 * H + G * H + G + len(cell.BACKWARD_RECORDED) * H + D + 7 + 2 * (
        matrix + names)
    update = 3 + 7 + len(cell.STATE) * H + 4 * (matrix + names)
    diagnostics = (_matrices(work) * T * T + T + 8) if work.diagnostics else 1
    rest = 60 + D + T * D + T * (K + 2) + 6 * W + diagnostics + matrix + names
    return T * forward + B * backward + W * update + rest


# ---------------------------------------------------------------------------------------------
# What to reduce: the fields that bring a request within a budget, and how far.


@dataclass(frozen=True)
class Reduction:
    """One change of the request that brings its cost within the budget.

    ``field``: "iterations", "jacobian_norms", "detail", "truncation.k2", "truncation.k1",
    "diagnostics", "hidden_size" or "steps" (the data's length, T); ``value``: the largest
    value that fits (the smallest for truncation.k1; False for the switches; "norms" for
    detail).
    """

    field: str
    value: int | bool | str
    cost: Cost


def reductions(work: Work, output: Output, cpu_seconds: float, peak_bytes: float
               ) -> list[Reduction]:
    """Every single-field change that makes the request fit both budgets, the field that
    drives the cost first: /train's iterations, then the costly options (the Jacobian norms,
    full detail), the truncation, the diagnostics, the hidden size, the data's length. Each
    numeric field is moved as little as fits (binary search: the cost grows with each)."""
    def fits(candidate: Work, out: Output = output) -> Cost | None:
        cost = estimate(candidate, out)
        return cost if cost.fits(cpu_seconds, peak_bytes) else None

    found: list[Reduction] = []

    def consider(field: str, value: int | bool | str, cost: Cost | None) -> None:
        if cost is not None:
            found.append(Reduction(field, value, cost))

    if work.task == "train" and work.iterations > 1:
        n = _largest(1, work.iterations - 1, lambda n: fits(_recount(work, iterations=n)))
        if n is not None:
            consider("iterations", n, fits(_recount(work, iterations=n)))
    if work.jacobian_norms:
        consider("jacobian_norms", False, fits(_recount(work, jacobian_norms=False)))
    if output.detail != "norms" and payload_detail(work, output) in ("full", "both"):
        consider("detail", "norms", fits(work, Output(output.form, "norms",
                                                      output.full_numbers)))
    if work.truncated and work.k2 > work.k1:
        k2 = _largest(work.k1, work.k2 - 1, lambda k: fits(_recount(work, k2=k)))
        if k2 is not None:
            consider("truncation.k2", k2, fits(_recount(work, k2=k2)))
    if work.truncated and work.k1 < work.T:
        k1 = _smallest(work.k1 + 1, work.T,
                       lambda k: fits(_recount(work, k1=k, k2=max(work.k2, k))))
        if k1 is not None:
            consider("truncation.k1", k1, fits(_recount(work, k1=k1, k2=max(work.k2, k1))))
    if work.diagnostics and work.recorded:
        consider("diagnostics", False, fits(_recount(work, diagnostics=False,
                                                     jacobian_norms=False)))
    if work.H > 1:
        h = _largest(1, work.H - 1, lambda h: fits(_recount(work, H=h)))
        if h is not None:
            consider("hidden_size", h, fits(_recount(work, H=h)))
    if work.T > 1:
        t = _largest(1, work.T - 1, lambda t: fits(_recount(work, T=t)))
        if t is not None:
            consider("steps", t, fits(_recount(work, T=t)))
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
        "optimizer": work.optimizer, "clip": work.clip, **changes}
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
