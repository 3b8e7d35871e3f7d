"""The plan of a request: everything worked out once, before any costly work starts.

    job = plan({"cell": "lstm", "data": {"preset": "sentence"}}, task="train", iterations=50)
    job.T, job.D, job.H, job.K          # the sizes
    job.windows, job.backward_steps     # the schedule
    job.work                            # the counts a cost model reads
    estimate(job.work, output)          # CPU seconds and peak bytes (engine.cost)

``plan(request)`` validates the request (engine.request), merges its preset's settings once
(``resolve_preset``, the one place a preset is read), fills the defaults that depend on
other fields once (k2 = k1, torch's eps), encodes the data without forming anything larger
than the data (engine.data), takes K from ``output_size``, else from the explicit
parameters (rows of V), else from the data, checks the explicit parameters and initial
state against those sizes, and counts the work: windows, forward and backward steps,
parameters, the cell steps a gradient check would replay, the diagnostics' own steps; from
those counts engine.cost estimates the CPU time and peak memory.

The server's limits judge a plan (app/serving/limits.py) before ``problem_of`` allocates the arrays
a pass runs on; the engine's entries (``run_trace``, ``train``, ``gradcheck``) take a plan or a
request, so a caller that has planned does not plan again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np

from ..bptt.problem import Problem
from ..bptt.schedule import windows
from ..cells.protocol import Params, Stack, recurrent_names
from ..cells.registry import CELLS
from ..request import bugs
from ..request.data import Encoded, encode
from ..request.errors import RequestError
from ..request.fields import (
    DEFAULT_EPS,
    TraceRequest,
    Truncation,
    convert_data,
    parse_request,
    plain,
    to_dict,
)
from ..request.params import check_params, check_state, init_params, param_count, rescale_recurrent
from ..request.presets import PRESETS

# "params": the initial parameters and state alone (engine.initial), no pass; "sample":
# "iterations" training passes (0 or more), then text written (engine.sample)
Task = Literal["trace", "train", "gradcheck", "params", "sample"]
TASKS: tuple[Task, ...] = ("trace", "train", "gradcheck", "params", "sample")


@dataclass(frozen=True)
class Work:
    """The counts a cost model needs to estimate a request's CPU time and peak memory.

    Everything is a count of the request as planned (sizes after the preset and the data,
    the schedule after truncation). A pass runs ``forward_steps`` cell steps forward and
    ``backward_steps`` backward (more than T when windows overlap, k2 > k1), one update per
    window; a training request runs ``iterations`` passes; a gradient check replays
    ``evaluations`` cell steps. ``recorded`` says whether a pass is returned as a full trace
    (its events, and the diagnostics when on). ``engine.cost.estimate`` turns the counts
    into CPU seconds and bytes; ``count_work`` counts them again for other sizes (the limits
    ask how far a field must come down).
    """

    task: Task
    cell: str
    T: int
    D: int
    H: int
    K: int
    gates: int  # G: the cell's stacked gates (1 RNN, 4 LSTM, 3 GRU)
    parameters: int  # numbers in the parameters
    windows: int
    updates: int  # one per window, per pass
    forward_steps: int  # per pass
    backward_steps: int  # per pass: the sum of the windows' lengths
    iterations: int  # passes: training passes, else 1
    evaluations: int  # cell steps a gradient check replays (0 unless task is gradcheck)
    recorded: bool  # a pass comes back as a trace (trace, or train with include_trace)
    diagnostics: bool  # error flow, weight flow, step norms, full vs truncated: O(T^2)
    jacobian_norms: bool  # the exact all-pairs Jacobian norms: O(T^2 H^3)
    # the recurrent matrices whose spectral radius the trace carries (each of the initial
    # parameters and of each update's parameters after it): O(H^3) each; 0 when not asked
    spectral_matrices: int = 0
    # the schedule and the update, as the cost model reads them
    k1: int = 0  # the schedule's k1 and k2 (T for full BPTT)
    k2: int = 0
    truncated: bool = False  # truncation asked for: the diagnostics compare with full BPTT
    loss_at: str = "every"  # "every" step or the "last" one
    optimizer: str = "sgd"
    clip: str | None = None  # "norm", "value" or None
    # the diagnostics' own counts (0 without diagnostics)
    flow_steps: int = 0  # backward steps of the error flow: window steps with a loss at/after
    flow_rows: int = 0  # the rows those steps carry: one per loss L(t) reaching the step
    replay_steps: int = 0  # full_vs_truncated: each window's losses back to t = 1 (sum of t)
    window_squares: int = 0  # sum over windows of their length squared (norms of the sums)
    bug: bool = False  # a planted bug: a recorded trace runs the true pass too (its parting)
    sample_steps: int = 0  # steps a sample reads and writes: its length, and 2T (engine.sample)
    # the sequences of a mini-batch (1: one sequence): every count above is one example's,
    # and each example's pass repeats it (engine.cost multiplies the phases of the pass)
    examples: int = 1
    # the layers of a stack: every count above but ``parameters`` is one layer's, and each
    # layer repeats it (engine.cost multiplies the phases of the pass and of the trace), in
    # each direction when ``bidirectional``
    layers: int = 1
    bidirectional: bool = False

    @property
    def units(self) -> int:
        """The recurrent networks a pass runs: layers x directions."""
        return self.layers * (2 if self.bidirectional else 1)


@dataclass(frozen=True, eq=False)  # holds arrays: equal only to itself
class Plan:
    """A validated request with everything derived from it, each quantity once."""

    request: TraceRequest  # preset settings merged; k2 and eps filled in
    data: Encoded  # the data, checked, with T, D, K, the loss, vocabulary and scale
    params: Params | None  # the explicit initial parameters, checked; None: drawn from seed
    k1: int  # the schedule's k1 and k2 (T for full BPTT; at most T)
    k2: int
    windows: tuple[tuple[int, int], ...]  # (first, last) of each update's window
    loss_steps: frozenset[int]  # the steps whose loss is injected
    forward_steps: int  # per pass
    backward_steps: int  # per pass
    parameter_count: int
    evaluations: int  # the cell steps a gradient check replays
    task: Task
    iterations: int
    include_trace: bool  # train: also a trace of one more pass from the trained parameters
    sample_length: int = 0  # sample: the tokens to write
    work: Work = field(init=False, repr=False)  # the counts, from the fields above

    def __post_init__(self) -> None:
        object.__setattr__(self, "work", _work_of(self))

    @property
    def cell(self) -> str:
        return self.request.cell

    @property
    def T(self) -> int:
        return self.data.T

    @property
    def D(self) -> int:
        return self.data.D

    @property
    def H(self) -> int:
        return self.request.hidden_size

    @property
    def K(self) -> int:
        return self.data.K

    @property
    def truncated(self) -> bool:
        """Whether the request asked for truncation (even one that cuts nothing)."""
        return self.request.truncation is not None

    def for_task(self, task: Task, iterations: int | None = None,
                 include_trace: bool | None = None) -> Plan:
        """The same request planned for another task (no validation or encoding again)."""
        iterations = _iterations(task, iterations if iterations is not None
                                 else self.iterations)
        include = bool(include_trace) if include_trace is not None else self.include_trace
        if (task, iterations, include) == (self.task, self.iterations, self.include_trace):
            return self
        return replace(self, task=task, iterations=iterations, include_trace=include)

    def with_params(self, params: Params) -> Plan:
        """The plan of one more pass of the same request from the given parameters (trained
        ones): taken as they are, neither drawn from the seed nor rescaled again."""
        request = replace(self.request, params=None, spectral_radius=None, forget_bias=None)
        return replace(self, request=request, params=params, task="trace", iterations=1,
                       include_trace=False)


def plan(request: TraceRequest | dict[str, Any], task: Task = "trace",
         iterations: int = 1, include_trace: bool = False, sample_length: int = 0) -> Plan:
    """Validate and plan a request (a dict shaped as CONTRACT.md's, or a ``TraceRequest``).

    ``task``: "trace" (one recorded pass), "train" (``iterations`` passes, and one more
    recorded when ``include_trace``), "gradcheck", "params" (the initial parameters
    alone, no pass), or "sample" (``iterations`` passes, 0 or more, then ``sample_length``
    tokens written). Raises ``RequestError`` naming the field.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    raw, preset_data = resolve_preset(plain(request))
    req = _fill_defaults(parse_request(raw))
    data = convert_data(preset_data) if preset_data is not None else req.data
    enc = encode(data, req.loss, req.output_size, _rows_of_v(req.params))
    cell, H = req.cell, req.hidden_size
    stack = stack_of(req)
    params = None if req.params is None else check_params(req.params, cell, H, enc.D, enc.K,
                                                          stack)
    for name in CELLS[cell].STATE:  # h0 (and c0): H values each, a row of them a unit
        check_state(getattr(req, f"{name}0"), H, f"{name}0", stack)
    bugs.check(req.bug, cell, {"activation": req.activation, "reduction": req.reduction,
                               "loss_at": req.loss_at,
                               "clip": req.clip.mode if req.clip is not None else None})
    if stack.layers > 1 and req.bug is not None:
        raise RequestError(("num_layers",), "the bug hunt runs on one layer: remove bug, or "
                                            "set num_layers to 1")
    if stack.bidirectional:
        check_bidirectional(req, enc, task)
    if enc.examples and req.bug is not None:
        raise RequestError(("bug",), "the bug hunt runs on one sequence: remove bug, or give "
                                     "one sequence instead of a batch")
    if enc.examples and task == "sample":
        one_sequence(enc, "writing text")
    T = enc.T
    if task == "gradcheck" and req.truncation is not None and \
            req.truncation.mode == "randomized":
        raise RequestError(("truncation", "mode"), "randomized truncation's gradient is a "
                                                   "random estimate of the full one, not the "
                                                   "gradient of a loss: finite differences "
                                                   "cannot check it; check fixed truncation "
                                                   "or full BPTT")
    k1, k2 = schedule_of(req.truncation, T)  # k2 filled in by _fill_defaults
    spans = tuple(windows(T, min(k1, T), min(k2, T)))
    backward = sum(last - first + 1 for first, last in spans)
    count = param_count(cell, H, enc.D, enc.K, stack)
    return Plan(
        request=req, data=enc, params=params, k1=min(k1, T), k2=min(k2, T), windows=spans,
        loss_steps=frozenset(range(1, T + 1)) if req.loss_at == "every" else frozenset({T}),
        forward_steps=T, backward_steps=backward, parameter_count=count,
        evaluations=2 * count * backward, task=task, iterations=_iterations(task, iterations),
        include_trace=bool(include_trace) and task == "train",
        sample_length=sample_length if task == "sample" else 0)


def one_sequence(data: Encoded, what: str) -> None:
    """Refuse a mini-batch where ``what`` reads one sequence (the neuron view, the PyTorch
    script, a written sample), naming the field."""
    if data.examples:
        raise RequestError(("data", "batch"), f"{what} reads one sequence; give one sequence "
                                              f"here, not a batch of {data.n} (a batch's "
                                              f"every example is in POST /api/v1/trace)")


def stack_of(req: TraceRequest) -> Stack:
    """The network's shape around the cell: its layers and directions."""
    return Stack(req.num_layers, req.bidirectional)


def check_bidirectional(req: TraceRequest, enc: Encoded, task: Task) -> None:
    """What a bidirectional network cannot do, refused naming the fields: it reads the whole
    sequence both ways before its first output, so it has no truncation (and no randomized
    one), no planted bug, and writes no text one token at a time."""
    if req.truncation is not None:
        raise RequestError(("truncation",), "a bidirectional network reads the whole sequence "
                                            "(its reverse direction starts at step T), so its "
                                            "BPTT is epochwise: remove truncation, or set "
                                            "bidirectional to false")
    if req.bug is not None:
        raise RequestError(("bug",), "the bug hunt runs on one direction: remove bug, or set "
                                     "bidirectional to false")
    if task == "sample":
        raise RequestError(("bidirectional",), "writing text feeds one token at a time, and a "
                                               "bidirectional network needs the whole sequence "
                                               "first: set bidirectional to false to sample")


def as_plan(request: Plan | TraceRequest | dict[str, Any], task: Task = "trace",
            iterations: int | None = None, include_trace: bool | None = None,
            sample_length: int = 0) -> Plan:
    """A plan for ``task``: the given one (for that task), or a new one of the request."""
    if isinstance(request, Plan):
        return request.for_task(task, iterations, include_trace)
    return plan(request, task, 1 if iterations is None else iterations, bool(include_trace),
                sample_length)


def problem_of(job: Plan, params: Params | None = None) -> Problem:
    """The arrays a pass runs on: inputs and targets, the initial parameters (explicit,
    ``params``, or drawn from the seed; then rescaled to the spectral radius) and state."""
    req = job.request
    if params is None:
        params = job.params if job.params is not None else init_params(
            req.cell, job.H, job.D, job.K, req.seed, req.forget_bias, stack_of(req))
        if req.spectral_radius is not None:
            params = rescale_recurrent(params, req.cell, req.spectral_radius, stack_of(req))
    # {state name: one array a unit} turned into one tuple (h0, c0) a unit
    given = [check_state(getattr(req, f"{name}0"), job.H, f"{name}0", stack_of(req))
             for name in CELLS[req.cell].STATE]
    state0, *deep_state0 = [tuple(states) for states in zip(*given, strict=True)]
    return Problem(
        cell=req.cell, activation=req.activation, inputs=job.data.inputs(),
        targets=job.data.targets(), loss=job.data.loss, loss_steps=job.loss_steps,
        reduction=req.reduction, k1=job.k1, k2=job.k2, windows=job.windows,
        optimizer=req.optimizer, clip=req.clip, params=params, state0=state0, bug=req.bug,
        batch=len(job.data.examples), carry=carry_weights(req.truncation, job.T, req.seed),
        deep_state0=tuple(deep_state0), stack=stack_of(req))


def sizes_of(job: Plan, batch: bool = True) -> dict[str, int]:
    """A result's ``sizes``: T, D, H, K; a mini-batch's n (unless not ``batch``: the initial
    parameters' sizes never said it) and a stack's layers beside them (one sequence of one
    layer keeps its sizes as they were)."""
    sizes = {"T": job.T, "D": job.D, "H": job.H, "K": job.K}
    if batch and job.data.examples:
        sizes["n"] = len(job.data.examples)
    if job.request.num_layers > 1:
        sizes["layers"] = job.request.num_layers
    if job.request.bidirectional:
        sizes["directions"] = 2
    return sizes


def config_of(job: Plan) -> dict[str, Any]:
    """The request with every default filled in (a result's ``config``): running it again
    gives the same numbers."""
    config = to_dict(job.request)
    if config["bug"] is None:  # a request without a bug keeps its config as it always was
        del config["bug"]
    if config["num_layers"] == 1:  # and one layer's, as it always was
        del config["num_layers"]
    if not config["bidirectional"]:
        del config["bidirectional"]
    trunc = config["truncation"]
    if trunc is not None and trunc["mode"] == "fixed":  # and fixed truncation's, its own
        del trunc["mode"], trunc["p"]
    config["loss"] = job.data.loss  # "from data" filled in, like the output size
    config["output_size"] = job.K
    if job.params is not None and job.request.params is None:  # trained parameters
        config["params"] = {name: value.tolist() for name, value in job.params.items()}
    return config


# ---------------------------------------------------------------------------------------------


def resolve_preset(raw: Any) -> tuple[Any, Any]:
    """The request with its preset's settings filling what the caller left out (the preset
    named, the default one when ``data`` is absent), and the preset's own data to encode
    (None when the data is not a known preset: the request's data is encoded, or the
    validation names what is wrong with it). The one place a preset is read."""
    data = raw.get("data", _DEFAULT_DATA) if isinstance(raw, dict) else None
    if not (isinstance(data, dict) and set(data) == {"preset"} and isinstance(
            data["preset"], str) and data["preset"] in PRESETS):
        return raw, None
    settings = PRESETS[data["preset"]].settings
    return {**settings, **raw, "data": data}, settings["data"]


_DEFAULT_DATA = plain(TraceRequest().data)


def _fill_defaults(req: TraceRequest) -> TraceRequest:
    """The defaults that depend on other fields: k2 = k1 (checking k2 >= k1), and torch's
    eps of the optimizer."""
    if req.truncation is not None and req.truncation.mode == "randomized":
        _check_randomized(req)
    elif req.truncation is not None:
        k1, k2 = req.truncation.k1, req.truncation.k2
        if k1 is None:
            raise RequestError(("truncation", "k1"), "field required: BPTT(k1, k2) updates "
                                                     "every k1 steps (or set mode to "
                                                     "randomized, with p)")
        if req.truncation.p is not None:
            raise RequestError(("truncation", "p"), "p is the keep probability of randomized "
                                                    "truncation; remove it, or set mode to "
                                                    "randomized")
        if k2 is None:
            req = replace(req, truncation=replace(req.truncation, k2=k1))
        elif k2 < k1:
            raise RequestError(("truncation", "k2"),
                               f"k2 must be >= k1 (BPTT(k1, k2) looks back at least as far as "
                               f"it steps); got k1 = {k1}, k2 = {k2}")
    if req.optimizer.eps is None and req.optimizer.name in DEFAULT_EPS:
        req = replace(req, optimizer=replace(req.optimizer,
                                             eps=DEFAULT_EPS[req.optimizer.name]))
    return req


def _check_randomized(req: TraceRequest) -> None:
    """Randomized truncation (d2l 9.7) is full BPTT with random weights on the recursion: it
    takes p, and no k1 or k2; its gradient is an estimate, which finite differences and the
    bug hunt's true pass cannot be held to."""
    trunc = req.truncation
    assert trunc is not None
    for name in ("k1", "k2"):
        if getattr(trunc, name) is not None:
            raise RequestError(("truncation", name), f"randomized truncation runs over the "
                                                     f"whole sequence (one window, each step's "
                                                     f"flow kept with probability p): remove "
                                                     f"{name}, or set mode to fixed")
    if trunc.p is None:
        raise RequestError(("truncation", "p"), "field required: randomized truncation keeps "
                                                "the error's flow at each step with "
                                                "probability p (0 < p <= 1)")
    if req.bug is not None:
        raise RequestError(("bug",), "the bug hunt compares a planted mistake with the true "
                                     "pass; remove bug, or use fixed truncation")


def schedule_of(trunc: Truncation | None, T: int) -> tuple[int, int]:
    """(k1, k2) as asked: BPTT(k1, k2) of fixed truncation; T, T for full BPTT and for
    randomized truncation (one window over the whole sequence)."""
    if trunc is None or trunc.mode == "randomized":
        return T, T
    return cast(int, trunc.k1), cast(int, trunc.k2)


def carry_weights(trunc: Truncation | None, T: int, seed: int) -> np.ndarray | None:
    """Randomized truncation's xi_1..xi_T (None otherwise): xi_t weights the error that flows
    from step t back to step t-1, 0 with probability 1 - p and 1/p with probability p, so
    that every path's product has expectation 1 and the gradient is unbiased. xi_1 = 1
    (nothing lies before step 1). Drawn from ``seed``'s own stream (the parameters' draw
    is another): numpy's default_rng((seed, 9_7)), one uniform per step."""
    if trunc is None or trunc.mode != "randomized":
        return None
    p = cast(float, trunc.p)
    kept = np.random.default_rng((seed, 9_7)).random(T) < p
    xi = np.where(kept, 1.0 / p, 0.0)
    xi[0] = 1.0
    return xi


def _rows_of_v(params: dict[str, Any] | None) -> int | None:
    """K as the explicit parameters say it (the rows of V), when they say it."""
    V = (params or {}).get("V")
    return len(V) if isinstance(V, list) and V else None


def _iterations(task: Task, iterations: int) -> int:
    if task not in ("train", "sample"):
        return 1
    least = 1 if task == "train" else 0  # a sample may write from the untrained parameters
    if iterations < least:
        raise RequestError(("iterations",), f"must be >= {least}, got {iterations}")
    return iterations


def _work_of(job: Plan) -> Work:
    req = job.request
    trunc = req.truncation
    k1, k2 = schedule_of(trunc, job.T)
    return count_work(
        job.task, job.cell, job.T, job.D, job.H, job.K, k1=k1, k2=k2,
        truncated=trunc is not None, loss_at=req.loss_at, iterations=job.iterations,
        include_trace=job.include_trace, diagnostics=req.diagnostics and req.bug is None,
        jacobian_norms=req.jacobian_norms, spectral_radii=req.spectral_radii,
        optimizer=req.optimizer.name,
        clip=req.clip.mode if req.clip is not None else None, bug=req.bug is not None,
        sample_steps=job.sample_length + 2 * job.T if job.task == "sample" else 0,
        examples=job.data.n, layers=req.num_layers, bidirectional=req.bidirectional)


def count_work(task: Task, cell: str, T: int, D: int, H: int, K: int, *, k1: int, k2: int,
               truncated: bool = False, loss_at: str = "every", iterations: int = 1,
               include_trace: bool = False, diagnostics: bool = True,
               jacobian_norms: bool = False, spectral_radii: bool = False,
               optimizer: str = "sgd", clip: str | None = None, bug: bool = False,
               sample_steps: int = 0, examples: int = 1, layers: int = 1,
               bidirectional: bool = False) -> Work:
    """The work of a request of these sizes (k1 and k2 as asked: at most T is applied here).

    Pure counting, a few microseconds: the limits call it for smaller sizes when they say
    how far a field must come down.
    """
    k1, k2 = min(k1, T), min(max(k2, k1), T)
    spans = windows(T, k1, k2)
    backward = sum(last - first + 1 for first, last in spans)
    count = param_count(cell, H, D, K, Stack(layers, bidirectional))
    iterations = iterations if task in ("train", "sample") else 1
    recorded = task == "trace" or (task == "train" and include_trace)
    flow_steps = flow_rows = replay = 0
    if diagnostics and recorded:
        flow_steps, flow_rows = _flow_counts(spans, loss_at)
        replay = sum(last for _, last in spans) if truncated else 0
    versions = len(spans) + 1  # the initial parameters, and those after each update
    spectral = (versions * len(recurrent_names(CELLS[cell], Stack(layers, bidirectional)))
                if spectral_radii and recorded else 0)
    return Work(
        task=task, cell=cell, T=T, D=D, H=H, K=K, gates=len(CELLS[cell].DELTA_KEYS),
        parameters=count, windows=len(spans), updates=len(spans), forward_steps=T,
        backward_steps=backward, iterations=iterations,
        evaluations=2 * count * backward if task == "gradcheck" else 0, recorded=recorded,
        diagnostics=diagnostics, jacobian_norms=diagnostics and jacobian_norms,
        spectral_matrices=spectral, k1=k1, k2=k2,
        truncated=truncated, loss_at=loss_at, optimizer=optimizer, clip=clip,
        flow_steps=flow_steps, flow_rows=flow_rows, replay_steps=replay,
        window_squares=sum((last - first + 1) ** 2 for first, last in spans),
        bug=bug and task == "trace", sample_steps=sample_steps if task == "sample" else 0,
        examples=examples, layers=layers, bidirectional=bidirectional)


def _flow_counts(spans: list[tuple[int, int]], loss_at: str) -> tuple[int, int]:
    """The error flow's backward steps and rows (engine.diagnostics): in each window, step k
    carries one row per loss L(t) of the window's new steps with t >= k."""
    steps = rows = 0
    done = 0
    for first, last in spans:
        new = last - done  # the window's new steps: done + 1 .. last
        if loss_at == "every":
            steps += last - first + 1
            # steps first..done+1 carry every new loss; later ones fewer, down to 1 at last
            rows += (done + 2 - first) * new + new * (new - 1) // 2
        elif last == spans[-1][1]:  # the one loss, L(T), is new in the last window only
            steps += last - first + 1
            rows += last - first + 1
        done = last
    return steps, rows
