"""The server's limits, judged on the engine's plan of a request before any costly work.

The schemas bound what a field can hold (hidden_size, text and series lengths, ...). The plan
(``engine.plan``) knows what the request will do: the sizes T, D and K as the data and the
parameters set them, the windows, the backward steps, the training passes, the cell steps of
a gradient check. ``check`` judges the sizes (the schemas' limits, applied to what the data
makes of them) and then the cost: the engine's cost model (``engine.cost``) estimates the
CPU seconds and the peak memory of the whole request, the response's JSON or CSV included,
and a request over either budget (BPTT_MAX_CPU_SECONDS, BPTT_MAX_MEMORY_MB) is refused with
an ``engine.RequestError`` naming the field that drives the cost and how far it must come
down, like every other bad request:

    body.iterations: this request would take about 38 CPU-seconds; the server allows 2
    (BPTT_MAX_CPU_SECONDS): at most 5 iterations, or hidden_size at most 16, or ...

The counts the server bounded before the cost model (BPTT_MAX_BACKWARD_STEPS,
BPTT_MAX_TRAIN_STEPS, BPTT_MAX_GRADCHECK_EVALUATIONS) are superseded by it: each still
applies when set, and is unset by default.
"""

from __future__ import annotations

from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings
from bptt_studio.engine import Plan, RequestError
from bptt_studio.engine.cells.protocol import Stack, all_params
from bptt_studio.engine.cells.registry import CELLS
from bptt_studio.engine.planning.cost import (
    FULL_MARGIN,
    Cost,
    Detail,
    Form,
    Output,
    Reduction,
    estimate,
    reductions,
)
from bptt_studio.engine.request.fields import MAX_LAYERS

MB = 1024 * 1024  # BPTT_MAX_MEMORY_MB counts mebibytes
# Bytes per number of a full trace, measured on traces of every cell (orjson writes float64
# in their shortest round-trip form, about 19 characters and a comma; zeros are shorter).
BYTES_PER_NUMBER = 20


def check(plan: Plan, settings: Settings, output: Output | None = None,
          bound_response: bool = True) -> None:
    """Every limit that applies to the plan's task, or a RequestError (an ApiError 413 for a
    response over its limit). ``output``: what the response makes of the result (JSON by
    default, with the request's detail); ``bound_response`` False for a response that is not
    the trace's JSON or CSV and is judged by its own size (the PyTorch script)."""
    output = output if output is not None else response(settings)
    check_sizes(plan, settings)
    check_superseded(plan, settings)
    check_cost(plan, settings, output)
    if bound_response:
        check_response(plan, settings, output)


def response(settings: Settings, form: Form = "json", detail: Detail = "auto") -> Output:
    """What a response makes of the engine's result: its form ("json", "csv", "neuron"),
    the trace's detail, and how many numbers a full trace may hold under "auto"
    (BPTT_MAX_RESPONSE_BYTES over the bytes a number takes in the JSON)."""
    return Output(form, detail, settings.max_response_bytes // BYTES_PER_NUMBER)


def check_sizes(plan: Plan, settings: Settings) -> None:
    """Steps, input size and output size within the server's limits."""
    data = plan.data
    steps, width, classes = plan.T, plan.D, plan.K
    if steps > settings.max_seq_len:
        raise RequestError(data.loc, f"{steps} steps; the server takes at most "
                                     f"{settings.max_seq_len} (max_seq_len, environment "
                                     f"variable BPTT_MAX_SEQ_LEN)")
    if width > settings.max_input_size:
        what = {"text": "distinct characters", "words": "distinct words"}.get(
            str(data.loc[-1]), "input values per step")
        raise RequestError(data.loc, f"{width} {what} (the input size D); the server takes "
                                     f"at most {settings.max_input_size} (max_input_size, "
                                     f"environment variable BPTT_MAX_INPUT_SIZE)")
    if classes > settings.max_input_size:
        _too_many_classes(plan, settings)


def _too_many_classes(plan: Plan, settings: Settings) -> None:
    most = settings.max_input_size
    if plan.data.k_loc == ("data", "targets") and plan.data.target_ids is not None:
        ids = plan.data.target_ids  # name the first class id over the limit
        first = int((ids >= most).argmax())
        raise RequestError(("data", "targets", first),
                           f"class id {int(ids[first])} needs an output size of "
                           f"{int(ids[first]) + 1}; the server takes at most {most} classes, "
                           f"ids 0..{most - 1} (BPTT_MAX_INPUT_SIZE)")
    what = _K_SOURCES.get(plan.data.k_loc, "output_size")
    raise RequestError(plan.data.k_loc, f"output size K = {plan.K} ({what}); the server takes "
                                        f"at most {most} (BPTT_MAX_INPUT_SIZE)")


_K_SOURCES: dict[tuple[str | int, ...], str] = {
    ("params", "V"): "the rows of params V", ("data", "targets"): "the length of each target"}


def check_cost(plan: Plan, settings: Settings, output: Output) -> None:
    """The estimated CPU seconds and peak memory within the server's budgets, or a
    RequestError naming the field to reduce (the one that drives the cost) and how far,
    with the other fields that would do."""
    budget_cpu, budget_bytes = settings.max_cpu_seconds, settings.max_memory_mb * MB
    cost = estimate(plan.work, output)
    if cost.fits(budget_cpu, budget_bytes):
        return
    found = reductions(plan.work, output, budget_cpu, budget_bytes)
    over = _over(cost, settings)
    if not found:  # not even a one-step, one-unit request of this kind fits
        raise RequestError(_loc(plan, "steps"), f"{over}: ask for less work (fewer "
                                                 f"iterations, a smaller vocabulary)")
    ways = [_way(plan, r) for r in found[:4]]
    raise RequestError(_loc(plan, found[0].field), f"{over}: {', or '.join(ways)}")


# No response is larger than this many times BPTT_MAX_RESPONSE_BYTES. The setting is where
# "auto" stops sending full matrices; the norms, which every trace falls back to, are allowed
# three times as much: the norms of every trace the size limits allow fit (the largest, an
# LSTM H = 64 over 200 steps of 128 symbols: 10.3 MB of JSON, 23.1 MB of CSV), and a trace
# of overlapping windows that would answer 61 MB is refused before it runs.
RESPONSE_CEILING = 3
# The bytes a number takes in a response: its JSON (the service's estimate), and a CSV row
# (47-54 bytes measured, docs/export-csv.md: the labels of the row and the value).
CSV_BYTES_PER_ROW = 48


def bytes_per_number(form: Form) -> int:
    return CSV_BYTES_PER_ROW if form == "csv" else BYTES_PER_NUMBER


def largest_response_bytes(settings: Settings) -> float:
    """The largest response the server sends (its body before gzip): RESPONSE_CEILING times
    BPTT_MAX_RESPONSE_BYTES, and 25 % for a response whose numbers are longer than the
    average (a JSON number takes at most 25 bytes; the CSV rows measured 47-54)."""
    return 1.25 * RESPONSE_CEILING * settings.max_response_bytes


def response_budget(settings: Settings, output: Output) -> float:
    """The most numbers the response may carry. An explicit "full" is the full matrices,
    within BPTT_MAX_RESPONSE_BYTES (judged with the count's own margin: the plan counts the
    full trace within 2 % of the made trace, which the server measures again before sending
    it); any other, RESPONSE_CEILING times it in the response's form."""
    if output.detail == "full":
        return output.full_numbers * FULL_MARGIN
    return RESPONSE_CEILING * settings.max_response_bytes / bytes_per_number(output.form)


def check_response(plan: Plan, settings: Settings, output: Output) -> None:
    """The response within its limit, judged before any work: a request whose answer would
    carry more numbers than ``response_budget`` is a 413 naming the field to reduce and how
    far (the detail, the truncation, the diagnostics, the sizes), so no response is
    computed, serialised, compressed and sent only to be too large."""
    most = response_budget(settings, output)
    cost = estimate(plan.work, output)
    if cost.response_numbers <= most:
        return
    size = cost.response_numbers * bytes_per_number(output.form) / 1e6
    form = "CSV" if output.form == "csv" else "JSON"
    allowed = settings.max_response_bytes * (1 if output.detail == "full" else RESPONSE_CEILING)
    over = (f"the response would carry about {cost.response_numbers:,.0f} numbers (about "
            f"{_number(size)} MB of {form}), over the server's limit of {allowed / 1e6:.1f} "
            f"MB" + (" for full matrices" if output.detail == "full" else "")
            + " (BPTT_MAX_RESPONSE_BYTES" + ("" if output.detail == "full" else
                                              f" x {RESPONSE_CEILING}") + ")")
    found = reductions(plan.work, output, settings.max_cpu_seconds,
                       settings.max_memory_mb * MB, most)
    if not found:
        raise ApiError(413, ("body", *_loc(plan, "steps")), f"{over}: ask for a shorter "
                                                            f"sequence", "response_too_large")
    ways = [_way(plan, r) for r in found[:4]]
    raise ApiError(413, ("body", *_loc(plan, found[0].field)), f"{over}: {', or '.join(ways)}",
                   "response_too_large")


def _over(cost: Cost, settings: Settings) -> str:
    """What the request would take, against what the server allows."""
    parts, allows = [], []
    if cost.cpu_seconds > settings.max_cpu_seconds:
        parts.append(f"take about {_number(cost.cpu_seconds)} CPU-seconds")
        allows.append(f"{settings.max_cpu_seconds:g} CPU-seconds (BPTT_MAX_CPU_SECONDS)")
    if cost.peak_bytes > settings.max_memory_mb * MB:
        parts.append(f"hold about {_number(cost.peak_bytes / MB)} MB at its peak")
        allows.append(f"{settings.max_memory_mb} MB (BPTT_MAX_MEMORY_MB)")
    return f"this request would {' and '.join(parts)}; the server allows {' and '.join(allows)}"


def _number(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _loc(plan: Plan, field: str) -> tuple[str | int, ...]:
    if field.startswith("steps"):
        return plan.data.loc
    if field == "examples":  # the batch's sequences
        return ("data", "batch")
    return tuple(field.split("+")[0].split("."))


_SWITCHES = {"jacobian_norms": '"jacobian_norms": false',
             "spectral_radii": '"spectral_radii": false',
             "diagnostics": '"diagnostics": false (no error-flow matrices)',
             "detail": '"detail": "norms"'}
_UNITS = {"text": "characters", "words": "words", "series": "values", "inputs": "rows"}


def _way(plan: Plan, reduction: Reduction) -> str:
    field, value = reduction.field, reduction.value
    if field in _SWITCHES:
        return _SWITCHES[field]
    if field == "iterations":
        return f"at most {value} iterations"
    if field == "truncation.k1":
        return f"truncation k1 at least {value}" + (
            " (and k2 at least k1)" if plan.k2 < int(value) else "")
    if field == "truncation.k2":
        return f"truncation k2 at most {value}"
    if field == "hidden_size":
        return f"hidden_size at most {value}"
    if field == "examples":
        return f"at most {value} sequences in the batch"
    if field == "num_layers":
        return f"num_layers at most {value}"
    if field == "hidden_size+steps":
        hidden, steps = str(value).split(",")
        return (f"hidden_size at most {hidden} and "
                f"{_way(plan, Reduction('steps', int(steps), reduction.cost))} together")
    if field.endswith("+iterations"):
        first, iterations = str(value).rsplit(",", 1)
        inner = field.removesuffix("+iterations")
        value_of: int | bool | str = first if inner == "hidden_size+steps" else (
            False if first == "False" else int(first) if first.isdigit() else first)
        return (f"{_way(plan, Reduction(inner, value_of, reduction.cost))} with at most "
                f"{iterations} iterations")
    kind = str(plan.data.loc[-1])
    units = _UNITS.get(kind)
    if units is None or kind == "inputs":  # T is the number of input rows
        return f"at most {value} steps" + (f" ({value} {units})" if units else "")
    return f"at most {value} steps ({int(value) + 1} {units})"


def check_superseded(plan: Plan, settings: Settings) -> None:
    """The count limits the cost budget superseded, when a deployment still sets them."""
    truncation = plan.request.truncation
    most = settings.max_backward_steps
    if most is not None and plan.backward_steps > most and truncation is not None:
        raise RequestError(("truncation", "k2"), f"BPTT({truncation.k1}, {truncation.k2}) over "
                                                 f"{plan.T} steps runs {plan.backward_steps} "
                                                 f"backward steps; the server runs at most "
                                                 f"{most} per pass (max_backward_steps, "
                                                 f"environment variable "
                                                 f"BPTT_MAX_BACKWARD_STEPS): use a smaller k2, "
                                                 f"a larger k1 or a shorter sequence")
    most = settings.max_train_steps
    per_pass = max(plan.backward_steps, 1)
    if most is not None and plan.task == "train" and plan.iterations * per_pass > most:
        raise RequestError(("iterations",), f"{plan.iterations} passes of {per_pass} backward "
                                            f"steps is {plan.iterations * per_pass} steps of "
                                            f"training; the server runs at most {most} per "
                                            f"request (max_train_steps, environment variable "
                                            f"BPTT_MAX_TRAIN_STEPS): ask for at most "
                                            f"{max(most // per_pass, 1)} iterations, or a "
                                            f"shorter sequence")
    most = settings.max_gradcheck_evaluations
    if most is not None and plan.task == "gradcheck" and plan.evaluations > most:
        raise RequestError(("hidden_size",), f"too large for a finite-difference check here: "
                                             f"{plan.evaluations} cell evaluations; the server "
                                             f"runs at most {most} "
                                             f"(BPTT_MAX_GRADCHECK_EVALUATIONS): use a smaller "
                                             f"hidden_size or a shorter sequence")


# ---------------------------------------------------------------------------------------------
# What a request may hold: the lengths the limits put on its fields (the request schemas state
# them, app/endpoints/schemas.py), and so the most numbers it can carry.

# The most parameters a one-layer network has (the LSTM's 14): what bounds the numbers
# ``params`` may hold (``params_max_numbers``), whatever the names.
ONE_LAYER_NAMES = max(len(all_params(cell)) for cell in CELLS.values())
# How many names ``params`` may hold: the deepest stack's (a 4-layer bidirectional LSTM's
# 98). Their numbers are held to the one-layer bound all the same (``params_max_numbers``):
# a 4-layer LSTM at H = 64, D = K = 128 holds 156,800 of 229,376; a bidirectional one at
# H = 64 more (395,520), so its explicit parameters are refused at that size (the seed's are
# not: they are drawn in the computation process, not sent).
MAX_PARAM_NAMES = max(len(all_params(cell, Stack(MAX_LAYERS, bidirectional=True)))
                      for cell in CELLS.values())
# The longest parameter name a request may write (the cells' own are at most 4 characters:
# "W_hf" and such); a longer key is refused by the schema before anything reads it.
MAX_PARAM_NAME_CHARS = 16
# Characters per word of ``data.words`` (the word and the white space after it): the string
# is bounded before it is split, so a body of 1.5 million words is refused by the schema, not
# split in the worker (+198 MB and 0.5 CPU-s each, before this bound). 32 is four times an
# English or Russian word with its space; the plan still counts the words (``check_sizes``).
WORD_CHARS = 32


def request_bounds(settings: Settings) -> dict[tuple[str, ...], tuple[str | None, dict[str, int]]]:
    """Lengths the server's limits put on the data, the parameters and the initial state, and
    the largest values they leave the schedule and the class ids: path -> (settings field,
    bounds).

    T steps need T + 1 characters or values (inputs are tokens[:-1], targets tokens[1:]);
    ``*`` is any item of a list (or any parameter's array). Words are bounded in characters
    (``WORD_CHARS`` per word) before they are split, and counted after, by ``check_sizes``. A
    parameter's rows and its row's length are H, D or K, so at most the larger of the two
    limits; the exact shape is the plan's to check (it knows H,
    D and K). So the numbers a request can hold are bounded by the limits (the largest
    cell's parameters at these bounds, the longest data), not by its bytes: the worker
    parses, validates and queues no more than that whatever the body limit allows.
    """
    seq, width = settings.max_seq_len, settings.max_input_size
    side = max(settings.max_hidden_size, width)
    side_setting = "max_input_size" if width >= settings.max_hidden_size else "max_hidden_size"
    return {
        ("data", "text"): ("max_seq_len", {"max_length": seq + 1}),
        ("data", "words"): ("max_seq_len", {"max_length": WORD_CHARS * (seq + 1)}),
        ("data", "series"): ("max_seq_len", {"max_length": seq + 1}),
        ("data", "inputs"): ("max_seq_len", {"max_length": seq}),
        ("data", "inputs", "*"): ("max_input_size", {"max_length": width}),
        ("data", "targets"): ("max_seq_len", {"max_length": seq}),
        ("params",): (None, {"max_length": MAX_PARAM_NAMES}),  # names: the cells', no setting
        ("params", "*"): (side_setting, {"max_length": side}),
        ("params", "*", "*"): (side_setting, {"max_length": side}),
        # H values, or a stack's rows of H values (the rows' count is the plan's to check)
        ("h0",): ("max_hidden_size", {"max_length": settings.max_hidden_size}),
        ("h0", "*"): ("max_hidden_size", {"max_length": settings.max_hidden_size}),
        ("c0",): ("max_hidden_size", {"max_length": settings.max_hidden_size}),
        ("c0", "*"): ("max_hidden_size", {"max_length": settings.max_hidden_size}),
        # a window of more than T steps is the whole sequence: k1 and k2 beyond the longest
        # sequence say nothing more; a class id is below the largest output size
        ("truncation", "k1"): ("max_seq_len", {"le": seq}),
        ("truncation", "k2"): ("max_seq_len", {"le": seq}),
        ("data", "targets", "*"): ("max_input_size", {"max_length": width, "ge": 0,
                                                      "le": width - 1}),
    }




def max_request_numbers(settings: Settings) -> int:
    """The most numbers a request the schema accepts can hold under these limits: every name
    of ``params`` at the largest rows and row length, the longest explicit inputs and targets,
    h0 and c0, and a few dozen scalars (288,832 at the default limits; the largest real
    model, the LSTM at H = 64, D = K = 128 with 200 steps of data, holds 109,184). The
    worker's memory per request is bounded by this, not by the body's bytes
    (app/serving/memory.py)."""
    lengths = request_bounds(settings)
    steps = lengths[("data", "inputs")][1]["max_length"]
    width = lengths[("data", "inputs", "*")][1]["max_length"]
    return (params_max_numbers(settings) + 2 * steps * width
            + 2 * settings.max_hidden_size ** 2 + 64)


def params_max_numbers(settings: Settings) -> int:
    """The most numbers ``params`` may hold (the schema counts them): a one-layer network's
    largest cell at the largest rows and row length. Names alone bound less: a stack may
    name 50 arrays, each of them up to the largest side."""
    side = request_bounds(settings)[("params", "*")][1]["max_length"]
    return ONE_LAYER_NAMES * side * side
