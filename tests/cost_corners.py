"""The cost model's corners: the largest request the default limits accept at each corner,
and a fresh process that runs one and measures it. Shared by tests/test_cost_sweep.py (what
does not depend on the machine's speed: every corner is answered, its peak memory within the
budget and the estimate) and bench/bench_cost.py (its CPU seconds against the estimate and the
budget, which depend on how fast and how busy the machine is, so they are a benchmark's
figures, not a test's).

The corners: every cell, full BPTT and BPTT(1, 2), at the largest sizes (T = 200 steps,
D = K = 128, hidden_size = 64); /trace with each ``detail``, with the Jacobian norms and
without diagnostics; /train with every optimizer at the most iterations the budget accepts
(one with include_trace); /gradcheck; /neuron; /export/csv; /trace and /train of a
mini-batch of 16 such texts; /trace, /train and /gradcheck of a stack of 4 layers, /trace of a
bidirectional one (full BPTT: it has no other). Where the budget refuses a
corner, the request is cut as its refusal says (the corner's own field first), which also
proves that what a refusal says to do is accepted.

Each accepted corner runs in a fresh process (OpenBLAS on one thread, as ``bptt-studio
serve`` runs it), through its endpoint's ``compute`` (app/endpoints/registry.py): CPU seconds from
``time.process_time``, peak memory as VmHWM (reset once the process is idle) minus the idle
VmRSS.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.engine import CELLS as ENGINE_CELLS
from bptt_studio.engine import RequestError
from bptt_studio.engine.planning import cost
from bptt_studio.engine.request.fields import MAX_EXAMPLES, MAX_LAYERS
from bptt_studio.serving.limits import MB, check, response_budget

# Measured against the budget and the estimate with these margins (the noise of a shared
# machine: its allocator, its page cache; for CPU seconds, its speed).
TOLERANCE = {"cpu": 1.25, "memory": 1.10}
ESTIMATE_TOLERANCE = 1.25
ALPHABET = [chr(0x21 + i) for i in range(94)] + [chr(0xC0 + i) for i in range(34)]
CELLS = tuple(ENGINE_CELLS)  # every registered cell
SCHEDULES = {"full": None, "BPTT(1,2)": {"k1": 1, "k2": 2}}
OPTIMIZERS = {"sgd": {"name": "sgd", "lr": 0.1}, "momentum": {"name": "momentum", "lr": 0.1},
              "adagrad": {"name": "adagrad", "lr": 0.1}, "adam": {"name": "adam", "lr": 0.01}}
TRAIN = {"record_every": 1, "include_trace": False, "detail": "auto"}

CHILD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.engine import RequestError
from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings

def status(key):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(key))

settings = Settings()
idle = status("VmRSS:")
try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak from now on
except OSError:
    pass
start = time.process_time()
try:
    COMPUTATIONS[spec["endpoint"]].compute(spec["request"], spec["options"], settings)
    code = 200
except ApiError as error:
    code = error.status_code
except RequestError:
    code = 422
cpu = time.process_time() - start
print(json.dumps({"status": code, "cpu": cpu, "peak": status("VmHWM:") - idle}))
"""


def text(T: int, D: int) -> str:
    chars = "".join(ALPHABET[:D])
    return (chars * (T // D + 2))[:T + 1]


def shorter(data: dict[str, Any], steps: int) -> dict[str, Any]:
    """The data of ``steps`` steps: a text, or a batch of as many texts as it had."""
    if "batch" in data:
        return {"batch": [{"text": text(steps, 128)}] * len(data["batch"])}
    return {"text": text(steps, 128)}


def corners() -> list[dict[str, Any]]:
    """Every corner at the largest sizes, with the fields the corner is about (its own to
    cut first when the budget refuses it)."""
    out = []
    for cell in CELLS:
        for schedule, truncation in SCHEDULES.items():
            base = {"cell": cell, "hidden_size": 64, "data": {"text": text(200, 128)},
                    **({"truncation": truncation} if truncation else {})}

            def add(kind: str, endpoint: str, request: dict[str, Any],
                    options: dict[str, Any], prefer: tuple[str, ...] = (),
                    cell: str = cell, schedule: str = schedule) -> None:
                out.append({"name": f"{kind} {cell} {schedule}", "kind": kind,
                            "endpoint": endpoint, "request": request, "options": options,
                            "prefer": prefer})

            for detail in ("auto", "norms", "full"):
                add(f"trace {detail}", "trace", base, {"detail": detail})
            add("trace jacobian", "trace", {**base, "jacobian_norms": True},
                {"detail": "norms"}, prefer=("hidden_size", "steps"))
            add("trace no diagnostics", "trace", {**base, "diagnostics": False},
                {"detail": "auto"})
            for name, rule in OPTIMIZERS.items():
                add(f"train {name}", "train", {**base, "optimizer": rule},
                    {**TRAIN, "iterations": 2000}, prefer=("iterations",))
            add("train adam + trace, clip", "train",
                {**base, "optimizer": OPTIMIZERS["adam"], "clip": {"mode": "norm", "max": 1.0}},
                {**TRAIN, "iterations": 2000, "include_trace": True}, prefer=("iterations",))
            add("gradcheck", "gradcheck", base, {},
                prefer=("hidden_size", "steps", "hidden_size+steps"))
            add("neuron", "neuron", base, {"t": 150, "unit": 0, "update": None,
                                            "convention": "gradient"})
            for detail in ("auto", "norms"):
                add(f"csv {detail}", "export/csv", base, {"detail": detail})
            # a mini-batch of the most sequences, each of the most steps and characters
            batch = {**base, "data": {"batch": [{"text": text(200, 128)}] * MAX_EXAMPLES}}
            add("trace batch", "trace", batch, {"detail": "auto"}, prefer=("examples",))
            add("train batch", "train", batch, {**TRAIN, "iterations": 2000},
                prefer=("iterations",))
            # a stack of the most layers (each as wide as the limits allow)
            deep = {**base, "num_layers": MAX_LAYERS}
            add("trace stack", "trace", deep, {"detail": "auto"}, prefer=("num_layers",))
            add("train stack", "train", deep, {**TRAIN, "iterations": 2000},
                prefer=("iterations",))
            add("gradcheck stack", "gradcheck", deep, {},
                prefer=("num_layers", "hidden_size", "steps", "hidden_size+steps"))
            if truncation is None:  # a bidirectional network's BPTT is epochwise only
                both = {**deep, "bidirectional": True}
                add("trace bidirectional", "trace", both, {"detail": "auto"},
                    prefer=("num_layers",))
    return out


# The sample the suite runs: each kind once, the cells and schedules taking turns, plus the
# costliest corners of the old limits (an LSTM under BPTT(1, 2)).
SAMPLE = [
    "trace auto lstm BPTT(1,2)", "trace norms rnn full", "trace full gru BPTT(1,2)",
    "trace jacobian gru full", "trace no diagnostics rnn BPTT(1,2)", "train sgd gru full",
    "train momentum rnn BPTT(1,2)", "train adagrad lstm full", "train adam gru BPTT(1,2)",
    "train adam + trace, clip lstm BPTT(1,2)", "gradcheck lstm full", "gradcheck rnn BPTT(1,2)",
    "neuron gru BPTT(1,2)", "csv auto lstm BPTT(1,2)", "csv norms rnn full",
    "trace batch lstm BPTT(1,2)", "train batch gru full",
    "trace stack gru BPTT(1,2)", "train stack lstm full", "trace bidirectional lstm full",
    "gradcheck stack rnn BPTT(1,2)",
]


def output_of(corner: dict[str, Any], settings: Settings) -> cost.Output:
    return COMPUTATIONS[corner["endpoint"]].output(corner["options"], settings)


def plan_of(corner: dict[str, Any]) -> Any:
    return COMPUTATIONS[corner["endpoint"]].plan(corner["request"], corner["options"])


def cut(corner: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """The corner with one field changed as a refusal said."""
    corner = copy.deepcopy(corner)
    request, options = corner["request"], corner["options"]
    if field.endswith("+iterations"):  # a change that fits one pass, and the passes that fit
        inner, (first, iterations) = field.removesuffix("+iterations"), str(value).rsplit(",", 1)
        parsed: Any = first if "," in first or not first.isdigit() else int(first)
        corner = cut(corner, inner, False if first == "False" else parsed)
        return cut(corner, "iterations", int(iterations))
    if field == "iterations":
        options["iterations"] = value
    elif field == "detail":
        options["detail"] = value
    elif field in ("jacobian_norms", "diagnostics"):
        request[field] = value
        request["jacobian_norms"] = False
    elif field == "truncation.k2":
        request["truncation"]["k2"] = value
    elif field == "truncation.k1":
        request["truncation"] = {"k1": value, "k2": max(value, request["truncation"]["k2"])}
    elif field == "hidden_size":
        request["hidden_size"] = value
    elif field == "num_layers":
        request["num_layers"] = value
    elif field == "examples":  # the batch's first sequences
        request["data"] = {"batch": request["data"]["batch"][:value]}
    elif field == "hidden_size+steps":
        hidden, steps = map(int, str(value).split(","))
        request["hidden_size"], request["data"] = hidden, shorter(request["data"], steps)
    else:  # steps: a shorter text with as many distinct characters as it can hold
        request["data"] = shorter(request["data"], value)
    corner["cut"] = [*corner.get("cut", []), f"{field}={value}"]
    return corner


def accepted(corner: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The corner as the limits accept it: cut as each refusal says until it is accepted."""
    for _ in range(6):
        job, output = plan_of(corner), output_of(corner, settings)
        try:
            check(job, settings, output)
            return corner
        except (RequestError, ApiError) as refused:
            # a 413 is the response's limit: cut within it as well as within the budget
            most = (response_budget(settings, output) if isinstance(refused, ApiError)
                    else math.inf)
            found = cost.reductions(job.work, output, settings.max_cpu_seconds,
                                    settings.max_memory_mb * MB, most)
            assert found, f"{corner['name']}: refused with nothing to reduce"
            prefer = corner["prefer"]
            ranked = sorted(found, key=lambda r: min(
                [prefer.index(part) for part in r.field.split("+") if part in prefer],
                default=len(prefer)))
            corner = cut(corner, ranked[0].field, ranked[0].value)
    raise AssertionError(f"{corner['name']}: still refused after {corner.get('cut')}")


def measure(corner: dict[str, Any]) -> dict[str, Any]:
    spec = {k: corner[k] for k in ("endpoint", "request", "options")}
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def chosen(everything: bool) -> list[dict[str, Any]]:
    """Every corner, or the deterministic sample."""
    return corners() if everything else [c for c in corners() if c["name"] in SAMPLE]


def sweep(corners_to_run: list[dict[str, Any]], settings: Settings) -> list[tuple]:
    """(the corner as accepted, what its run measured, the model's estimate), per corner;
    two at a time, one per core."""
    runs = [accepted(c, settings) for c in corners_to_run]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(measure, runs))
    return [(corner, result, cost.estimate(plan_of(corner).work, output_of(corner, settings)))
            for corner, result in zip(runs, results, strict=True)]


def label(corner: dict[str, Any]) -> str:
    return f"{corner['name']} ({', '.join(corner.get('cut', [])) or 'as is'})"


def status_failures(rows: list[tuple]) -> list[str]:
    # 413: "full" over the response limit
    return [f"{label(c)}: status {r['status']}" for c, r, _ in rows
            if r["status"] not in (200, 413)]


def memory_failures(rows: list[tuple], settings: Settings) -> list[str]:
    """Peak memory over the budget or the estimate: bytes, the same on any machine's speed."""
    budget = settings.max_memory_mb * MB
    out = []
    for corner, result, estimate in rows:
        if result["peak"] > budget * TOLERANCE["memory"]:
            out.append(f"{label(corner)}: {result['peak'] / MB:.0f} MB over the budget")
        if result["peak"] > max(estimate.peak_bytes, 4 * MB) * ESTIMATE_TOLERANCE:
            out.append(f"{label(corner)}: {result['peak'] / MB:.0f} MB, estimated "
                       f"{estimate.peak_bytes / MB:.0f}")
    return out


def cpu_failures(rows: list[tuple], settings: Settings) -> list[str]:
    """CPU seconds over the budget or the estimate: the machine's speed decides, so only the
    benchmark judges them."""
    out = []
    for corner, result, estimate in rows:
        if result["cpu"] > settings.max_cpu_seconds * TOLERANCE["cpu"]:
            out.append(f"{label(corner)}: {result['cpu']:.2f} CPU-s over the budget")
        if result["cpu"] > estimate.cpu_seconds * ESTIMATE_TOLERANCE:
            out.append(f"{label(corner)}: {result['cpu']:.2f} CPU-s, estimated "
                       f"{estimate.cpu_seconds:.2f}")
    return out


def report(rows: list[tuple], settings: Settings) -> str:
    lines = [f"cost sweep: {len(rows)} corners (budget {settings.max_cpu_seconds} CPU-s, "
             f"{settings.max_memory_mb} MB)"]
    for corner, result, estimate in rows:
        lines.append(
            f"  {corner['name']:42s} {', '.join(corner.get('cut', [])) or 'as is':28s} "
            f"{result['status']}  CPU {result['cpu']:5.2f} s (est. {estimate.cpu_seconds:5.2f},"
            f" x{result['cpu'] / estimate.cpu_seconds:4.2f})  peak {result['peak'] / MB:6.1f} MB"
            f" (est. {estimate.peak_bytes / MB:6.1f})")
    worst_cpu = max(rows, key=lambda r: r[1]["cpu"])
    worst_peak = max(rows, key=lambda r: r[1]["peak"])
    worst_ratio = max(rows, key=lambda r: r[1]["cpu"] / r[2].cpu_seconds)
    lines.append(f"  worst CPU {worst_cpu[1]['cpu']:.2f} s ({worst_cpu[0]['name']}); worst "
                 f"measured/estimated CPU x{worst_ratio[1]['cpu'] / worst_ratio[2].cpu_seconds:.2f}"
                 f" ({worst_ratio[0]['name']}); worst peak {worst_peak[1]['peak'] / MB:.1f} MB "
                 f"({worst_peak[0]['name']})")
    return "\n".join(lines)
