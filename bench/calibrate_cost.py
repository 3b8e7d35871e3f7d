"""Calibrate the cost model (engine/cost.py) on this machine: measure, fit, print.

    .venv/bin/python bench/calibrate_cost.py                  # measure ~200 requests, fit, print
    .venv/bin/python bench/calibrate_cost.py --write          # ... and write the coefficients
    .venv/bin/python bench/calibrate_cost.py --save m.json    # keep the measurements
    .venv/bin/python bench/calibrate_cost.py --load m.json    # fit again without measuring

Each request runs in a fresh process (``--child``), as the API runs it (its endpoint's ``compute``,
app/endpoints/registry.py), with OpenBLAS on one thread as ``bptt-studio serve`` pins it. The child
times every phase of engine/planning/cost.py (CPU seconds from ``time.process_time``, exclusive of
the phases inside it) and measures the memory each phase adds at its peak (VmHWM, reset before each
phase through /proc/self/clear_refs, minus VmRSS when the phase starts). The requests
are drawn at random (seeded) across the server's limits, every cell, schedule, optimizer,
clipping, endpoint and detail, plus the corners of the limits, each kept to a few seconds.

The fit is per phase: non-negative least squares of the measured CPU time (and memory) on
the phase's features (``engine.cost.features`` of the work as it ran: the detail the server
chose), minimising the relative error; the margin of the whole estimate is the largest
measured / fitted ratio of a whole request among those of at least a quarter of the default
budget (the base constant covers the shortfall of smaller ones), so the estimate is not below
anything measured here. It prints the coefficients, each
phase's fit error, and the whole estimate against the whole measurement of each request.

``--write`` writes the shared coefficients into engine/cost.py (between its CALIBRATION-BEGIN
and CALIBRATION-END lines) and each registered cell's own (``engine.cell.CELL_COST_FEATURES``:
the features named ``<feature>_<cell>``) into the cell's module, as its ``COST`` (between
COST-BEGIN and COST-END); a cell module elsewhere (BPTT_CELLS) is written where it is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bptt_studio.engine.cells.registry import CELLS

ROOT = Path(__file__).resolve().parent.parent
COST_FILE = ROOT / "engine" / "cost.py"
ALPHABET = [chr(0x21 + i) for i in range(94)] + [chr(0xC0 + i) for i in range(34)]
CELL_NAMES = tuple(CELLS)  # every registered cell (BPTT_CELLS=module adds one of elsewhere)
OPTIMIZERS = {"sgd": {"name": "sgd", "lr": 0.1}, "momentum": {"name": "momentum", "lr": 0.1},
              "adagrad": {"name": "adagrad", "lr": 0.1}, "adam": {"name": "adam", "lr": 0.01}}
# the child's settings: no limit on work in the way of a measurement ("auto" and "full" as the
# default server decides them: BPTT_MAX_RESPONSE_BYTES is kept)
UNLIMITED = {"max_backward_steps": 10**9, "max_train_steps": 10**12,
             "max_gradcheck_evaluations": 10**12, "max_cpu_seconds": 10**9,
             "max_memory_mb": 10**9}
FULL_NUMBERS = 8_000_000 // 20  # "auto" as the default server decides it (BPTT_MAX_RESPONSE_BYTES)
# Below these a phase's measurement is mostly noise (fresh-process first calls, the heap's
# granularity): the fit weighs errors under them as absolute, above them as relative.
FLOOR = {"cpu": 0.1, "memory": 20e6}
# The margin comes from requests of at least a quarter of the default budget (where the
# budget is decided); smaller ones are noise around the constants, far from any budget, and
# the base constant covers them (SIGNIFICANT: what the report calls a large request).
MARGIN_FROM = {"cpu": 0.5, "memory": 50e6}
SIGNIFICANT = {"cpu": 0.1, "memory": 20e6}
ROUGH_SECONDS = 4.0  # requests are drawn to stay under about this many CPU seconds


def text(T: int, D: int) -> str:
    """T + 1 characters with min(D, T + 1) distinct ones (D is the input size)."""
    chars = "".join(ALPHABET[:D])
    return (chars * (T // max(D, 1) + 2))[:T + 1]


def request_of(cell: str, T: int, D: int, H: int, **fields: Any) -> dict[str, Any]:
    return {"cell": cell, "hidden_size": H, "data": {"text": text(T, D)}, **fields}


# ---------------------------------------------------------------------------------------------
# The child: one request, every phase timed and measured.


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM back to VmRSS


class Phases:
    """Exclusive CPU seconds and the largest memory increment of each phase."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.memory: dict[str, int] = {}
        self.stack: list[dict[str, Any]] = []
        self.overhead = 0.0
        self.peak = 0

    def enter(self, name: str) -> None:
        t0 = time.process_time()
        high = _status("VmHWM:")
        self.peak = max(self.peak, high)
        if self.stack:
            self.stack[-1]["peak"] = max(self.stack[-1]["peak"], high)
        _reset_peak()
        rss = _status("VmRSS:")
        start = time.process_time()
        self.stack.append({"name": name, "t0": t0, "start": start, "inner": 0.0, "rss": rss,
                           "peak": rss})
        self.overhead += start - t0

    def leave(self) -> None:
        end = time.process_time()
        frame = self.stack.pop()
        high = _status("VmHWM:")
        self.peak = max(self.peak, high)
        frame["peak"] = max(frame["peak"], high)
        name = frame["name"]
        self.cpu[name] = self.cpu.get(name, 0.0) + (end - frame["start"] - frame["inner"])
        self.memory[name] = max(self.memory.get(name, 0), frame["peak"] - frame["rss"])
        _reset_peak()
        t1 = time.process_time()
        self.overhead += t1 - end
        if self.stack:
            self.stack[-1]["inner"] += t1 - frame["t0"]

    def wrap(self, module_name: str, attribute: str, name: str) -> None:
        import importlib

        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(module, attribute, timed)


WRAPPED = [  # (module, function, phase of engine/cost.py)
    ("bptt_studio.engine.tasks.run", "run_schedule", "pass"),
    ("bptt_studio.engine.tasks.gradcheck", "run_schedule", "pass"),
    ("bptt_studio.engine.tasks.train", "run_schedule", "passes"),
    ("bptt_studio.engine.bptt.diagnostics", "compute", "diagnostics"),
    ("bptt_studio.engine.bptt.diagnostics", "_full_vs_truncated", "replay"),
    ("bptt_studio.engine.bptt.diagnostics", "jacobian_norms", "jacobian"),
    ("bptt_studio.engine.tasks.run", "_all_finite", "scan"),
    ("bptt_studio.endpoints.tasks", "trace_payload", "payload"),
    ("bptt_studio.endpoints.tasks", "dumps", "json"),
    ("bptt_studio.endpoints.neuron", "dumps", "json"),
    ("bptt_studio.endpoints.export_csv", "to_csv_bytes", "csv"),
    ("bptt_studio.engine.tasks.gradcheck", "numeric_param_grad", "gradcheck"),
    ("bptt_studio.engine.tasks.train", "what_it_says", "extras"),
    ("bptt_studio.engine.outputs.neuron", "neuron_view", "view"),
]


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from bptt_studio.core.errors import ApiError
    from bptt_studio.core.settings import Settings
    from bptt_studio.endpoints.registry import COMPUTATIONS
    from bptt_studio.engine import RequestError

    fields = Settings.model_fields
    settings = Settings(**{k: v for k, v in UNLIMITED.items() if k in fields})
    phases = Phases()
    if spec.get("phases", True):
        for module, attribute, name in WRAPPED:
            phases.wrap(module, attribute, name)
    idle = _status("VmRSS:")
    _reset_peak()
    start = time.process_time()
    try:
        status, size = 200, len(COMPUTATIONS[spec["endpoint"]].compute(
            spec["request"], spec["options"], settings))
    except (RequestError, ApiError) as error:  # "full" over the response limit: a 413
        status, size = getattr(error, "status_code", 422), 0
    total = time.process_time() - start
    peak = max(phases.peak, _status("VmHWM:")) - idle
    inside = sum(phases.cpu.values())
    phases.cpu["base"] = max(total - inside - phases.overhead, 0.0)
    phases.memory["base"] = max(peak - sum(phases.memory.values()), 0)
    return {"cpu": total - phases.overhead, "peak": peak, "status": status, "bytes": size,
            "phases": {name: [phases.cpu[name], phases.memory.get(name, 0)]
                       for name in phases.cpu}}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"child failed for {spec['name']}: {done.stderr[-2000:]}")
    return {**spec, **json.loads(done.stdout)}


# ---------------------------------------------------------------------------------------------
# What to measure.


def work_and_output(spec: dict[str, Any]) -> tuple[Any, Any]:
    """The request's Work and Output as the API plans them."""
    from bptt_studio.endpoints.registry import COMPUTATIONS
    from bptt_studio.engine.planning import cost

    endpoint = COMPUTATIONS[spec["endpoint"]]
    options = spec["options"]
    job = endpoint.plan(spec["request"], options)
    return job.work, cost.Output(endpoint.form, options.get("detail", "auto"), FULL_NUMBERS)


def rough_seconds(work: Any) -> float:
    """A rough guess, only to keep the measured requests to a few seconds each."""
    flops = 2.0 * (work.T + 2 * work.backward_steps) * work.parameters
    per_pass = (2e-9 * flops + 3e-5 * (work.T + work.backward_steps) + 4e-4 * work.windows
                + 2e-8 * work.windows * work.parameters)
    seconds = per_pass * (work.iterations + 1)
    seconds += 2e-9 * work.replay_steps * work.parameters * 2 + 3e-5 * work.flow_steps
    if work.jacobian_norms:
        seconds += 4e-10 * work.T ** 2 * work.H ** 3
    seconds += work.evaluations * (1.5e-5 + 2e-9 * work.parameters)
    return seconds


def _log_int(rng: np.random.Generator, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def random_spec(rng: np.random.Generator, index: int) -> dict[str, Any] | None:
    """Sizes log-uniform over the limits, or (every other request) over their upper part,
    where the budget is decided."""
    cell = str(rng.choice(CELL_NAMES))
    large = index % 2 == 1
    T = _log_int(rng, 100 if large else 2, 200)
    D = min(_log_int(rng, 32 if large else 2, 128), T + 1)
    H = _log_int(rng, 16 if large else 1, 64)
    fields: dict[str, Any] = {"optimizer": OPTIMIZERS[str(rng.choice(list(OPTIMIZERS)))]}
    if rng.random() < 0.6:
        k1 = _log_int(rng, 1, T)
        k2 = k1 if rng.random() < 0.4 else min(T, k1 + _log_int(rng, 1, 8 * k1 + 8))
        fields["truncation"] = {"k1": k1, "k2": k2}
    clip = rng.random()
    if clip < 0.2:
        fields["clip"] = {"mode": "norm", "max": 0.5}
    elif clip < 0.4:
        fields["clip"] = {"mode": "value", "max": 0.05}
    if rng.random() < 0.15:
        fields["loss_at"] = "last"
    request = request_of(cell, T, D, H, **fields)
    if rng.random() < 0.1:  # a series: D = K = 1
        request["data"] = {"series": [float(math.sin(t / 3.0)) for t in range(T + 1)]}
    endpoint = str(rng.choice(["trace"] * 6 + ["train"] * 5 + ["gradcheck"] * 4
                              + ["neuron"] * 2 + ["export/csv"] * 3))
    options: dict[str, Any] = {}
    if endpoint in ("trace", "export/csv"):
        request["diagnostics"] = bool(rng.random() < 0.85)
        request["jacobian_norms"] = bool(request["diagnostics"] and rng.random() < 0.25)
        options["detail"] = str(rng.choice(["auto", "auto", "norms", "full"]))
    if endpoint == "train":
        options = {"iterations": _log_int(rng, 1, 500), "record_every": 1,
                   "include_trace": bool(rng.random() < 0.4),
                   "detail": str(rng.choice(["auto", "norms"]))}
    if endpoint == "neuron":
        options = {"t": int(rng.integers(1, T + 1)), "unit": int(rng.integers(0, H)),
                   "update": None, "convention": "gradient"}
    spec = {"name": f"random {index}", "endpoint": endpoint, "request": request,
            "options": options}
    return _bounded(spec)


def _bounded(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The spec with its iterations cut to the rough bound; None when it cannot be."""
    work, _ = work_and_output(spec)
    seconds = rough_seconds(work)
    if spec["endpoint"] == "train" and seconds > ROUGH_SECONDS:
        per_pass = seconds / (work.iterations + 1)
        spec["options"]["iterations"] = max(1, int(ROUGH_SECONDS / per_pass) - 1)
        work, _ = work_and_output(spec)
        seconds = rough_seconds(work)
    return spec if seconds <= ROUGH_SECONDS else None


def corner_specs() -> list[dict[str, Any]]:
    """The corners of the default limits (T = 200, D = K = 128, H = 64), each cell."""
    specs = []
    for cell in CELL_NAMES:
        for schedule, truncation in (("full", None), ("BPTT(1,2)", {"k1": 1, "k2": 2})):
            fields = {"truncation": truncation} if truncation else {}
            base = request_of(cell, 200, 128, 64, **fields)
            specs += [
                {"name": f"corner trace {cell} {schedule}", "endpoint": "trace",
                 "request": base, "options": {"detail": "auto"}},
                {"name": f"corner trace {cell} {schedule} jacobian", "endpoint": "trace",
                 "request": {**base, "jacobian_norms": True}, "options": {"detail": "norms"}},
                {"name": f"corner csv {cell} {schedule}", "endpoint": "export/csv",
                 "request": base, "options": {"detail": "auto"}},
                {"name": f"corner neuron {cell} {schedule}", "endpoint": "neuron",
                 "request": base, "options": {"t": 100, "unit": 3, "update": None,
                                              "convention": "gradient"}},
                {"name": f"corner train {cell} {schedule} adam", "endpoint": "train",
                 "request": {**base, "optimizer": OPTIMIZERS["adam"]},
                 "options": {"iterations": 2000, "record_every": 1, "include_trace": True,
                             "detail": "auto"}},
            ]
        specs.append({"name": f"corner gradcheck {cell}", "endpoint": "gradcheck",
                      "request": request_of(cell, 10, 5, 16), "options": {}})
        small = request_of(cell, 40, 12, 12)
        specs.append({"name": f"trace {cell} full detail", "endpoint": "trace",
                      "request": small, "options": {"detail": "full"}})
        # the corners the model priced under their cost (issue 23): /train over windows that
        # overlap (every window walks back k2 steps: T k2 backward steps a pass), and the CSV
        # of a trace whose windows overlap
        overlapping = request_of(cell, 200, 26, 16, truncation={"k1": 1, "k2": 200},
                                 optimizer=OPTIMIZERS["sgd"])
        specs.append({"name": f"corner train {cell} BPTT(1,200)", "endpoint": "train",
                      "request": overlapping, "options": {"iterations": 13, "record_every": 1,
                                                          "include_trace": False,
                                                          "detail": "norms"}})
        specs.append({"name": f"corner csv {cell} BPTT(1,20)", "endpoint": "export/csv",
                      "request": request_of(cell, 150, 26, 8, truncation={"k1": 1, "k2": 20}),
                      "options": {"detail": "auto"}})
    # the corners are measured as they are (a few CPU-seconds at most); /train's iterations
    # are cut to the rough bound
    return [s for s in (_bounded(spec) if spec["endpoint"] == "train" else spec
                        for spec in specs) if s is not None]


def specs_to_measure(samples: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    specs = corner_specs()
    index = 0
    while len(specs) < samples:
        spec = random_spec(rng, index)
        index += 1
        if spec is not None:
            specs.append(spec)
    return specs


# ---------------------------------------------------------------------------------------------
# The fit.


def nnls(A: np.ndarray, y: np.ndarray, iterations: int = 200) -> np.ndarray:
    """min ||A x - y|| subject to x >= 0 (Lawson and Hanson's active set method)."""
    n = A.shape[1]
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    for _ in range(iterations):
        gradient = A.T @ (y - A @ x)
        free = ~passive & (gradient > 1e-12 * max(1.0, float(np.abs(gradient).max())))
        if not free.any():
            break
        passive[int(np.argmax(np.where(free, gradient, -np.inf)))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], y, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            bad = passive & (z <= 0)
            alpha = float(np.min(x[bad] / (x[bad] - z[bad])))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
    return x


def fit_phase(rows: list[tuple[dict[str, float], float]], floor: float
              ) -> tuple[dict[str, float], float, float]:
    """Coefficients minimising the relative error (absolute under ``floor``), and the
    median and worst relative error of the fit."""
    names = sorted({name for features, _ in rows for name, v in features.items() if v})
    if not names:
        return {}, 0.0, 0.0
    A = np.array([[features.get(name, 0.0) for name in names] for features, _ in rows])
    y = np.array([value for _, value in rows])
    weight = 1.0 / np.maximum(y, floor)
    scale = np.maximum(np.abs(A * weight[:, None]).max(axis=0), 1e-300)
    x = nnls(A * weight[:, None] / scale, y * weight) / scale
    error = np.abs(A @ x - y) / np.maximum(y, floor)
    return ({name: float(v) for name, v in zip(names, x, strict=True) if v > 0},
            float(np.median(error)), float(error.max()))


def fit(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The coefficients of every phase, and the margins of the whole estimate."""
    from bptt_studio.engine.planning import cost

    rows: dict[str, dict[str, list[tuple[dict[str, float], float]]]] = {}
    for m in measured:
        work, output = work_and_output(m)
        phases = cost.features(work, output, as_run=True)
        for phase, (cpu_features, memory_features) in phases.items():
            cpu, memory = m["phases"].get(phase, [0.0, 0])
            rows.setdefault(phase, {"cpu": [], "memory": []})
            rows[phase]["cpu"].append((cpu_features, cpu))
            rows[phase]["memory"].append((memory_features, float(memory)))
    model: dict[str, Any] = {"cpu": {}, "memory": {}, "errors": {}}
    for phase, kinds in sorted(rows.items()):
        cpu, cpu_median, cpu_worst = fit_phase(kinds["cpu"], FLOOR["cpu"])
        memory, mem_median, mem_worst = fit_phase(kinds["memory"], FLOOR["memory"])
        model["cpu"][phase], model["memory"][phase] = cpu, memory
        model["errors"][phase] = (len(kinds["cpu"]), cpu_median, cpu_worst, mem_median,
                                  mem_worst)
    ratios = whole_ratios(measured, model)
    model["fitted_ratios"] = ratios
    model["margin"] = tuple(
        round(max(1.0, max((r for r, total in ratios[kind] if total >= MARGIN_FROM[kind]),
                           default=1.0)) * 1.02, 3)  # 2 % for the noise between runs
        for kind in ("cpu", "memory"))
    # Small requests are noise around the constants (a fresh process's first calls, the
    # heap's granularity): the base phase's constant grows by the largest shortfall left, so
    # no request measured here is above its estimate.
    for index, kind in enumerate(("cpu", "memory")):
        measured_key = "cpu" if kind == "cpu" else "peak"
        shortfall = max(m[measured_key] - model["margin"][index] * m[measured_key] / ratio
                        for m, (ratio, _) in zip(measured, ratios[kind], strict=True))
        if shortfall > 0:
            base = model[kind]["base"]
            base["one"] = base.get("one", 0.0) + 1.05 * shortfall / model["margin"][index]
    return model


def whole_ratios(measured: list[dict[str, Any]], model: dict[str, Any]
                 ) -> dict[str, list[tuple[float, float]]]:
    """Measured / fitted (no margin) of each whole request, its work as it ran:
    [(ratio, measured)], CPU and memory."""
    from bptt_studio.engine.planning import cost

    out: dict[str, list[tuple[float, float]]] = {"cpu": [], "memory": []}
    for m in measured:
        work, output = work_and_output(m)
        fitted = {"cpu": 0.0, "memory": 0.0}
        phases = cost.features(work, output, as_run=True)
        for phase, (cpu_features, memory_features) in phases.items():
            fitted["cpu"] += sum(model["cpu"][phase].get(k, 0.0) * v
                                 for k, v in cpu_features.items())
            fitted["memory"] += sum(model["memory"][phase].get(k, 0.0) * v
                                    for k, v in memory_features.items())
        out["cpu"].append((m["cpu"] / max(fitted["cpu"], 1e-12), m["cpu"]))
        out["memory"].append((m["peak"] / max(fitted["memory"], 1.0), m["peak"]))
    return out


# ---------------------------------------------------------------------------------------------
# Report and write.


def _compare(measured: list[dict[str, Any]]) -> list[tuple[str, float, float, float, float]]:
    """(name, measured CPU, estimated CPU, measured peak, estimated peak) of each request,
    with the coefficients now in engine/cost.py."""
    import importlib

    from bptt_studio.engine.cells.registry import CELLS
    from bptt_studio.engine.planning import cost

    for cell in CELLS.values():  # their COST as written
        importlib.reload(cell)  # type: ignore[arg-type]
    importlib.reload(cost)
    out = []
    for m in measured:
        work, output = work_and_output(m)
        estimate = cost.estimate(work, output)
        out.append((m["name"], m["cpu"], estimate.cpu_seconds, m["peak"], estimate.peak_bytes))
    return out


def report(model: dict[str, Any]) -> str:
    lines = ["phase        rows   CPU fit: median / worst rel. error    memory fit: median / worst"]
    for phase, (n, cm, cw, mm, mw) in model["errors"].items():
        lines.append(f"{phase:12s} {n:4d}   {cm:8.1%} / {cw:8.1%}                "
                     f"{mm:8.1%} / {mw:8.1%}")
    for kind in ("cpu", "memory"):
        ratios = [r for r, total in model["fitted_ratios"][kind]
                  if total >= SIGNIFICANT[kind]]
        if ratios:
            lines.append(f"whole requests, {kind} (the {len(ratios)} over {SIGNIFICANT[kind]:g}): "
                         f"measured / fitted median {np.median(ratios):.2f}, 90th percentile "
                         f"{np.percentile(ratios, 90):.2f}, largest {max(ratios):.2f}")
    lines.append(f"margins (CPU, memory): {model['margin']}")
    return "\n".join(lines)


def split_cells(cpu: dict[str, dict[str, float]]
                ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """The CPU coefficients as (the shared ones, {cell: its own COST}): a feature of
    CELL_COST_FEATURES is ``<feature>_<cell>``; one the fit left out (at zero) is 0.0."""
    from bptt_studio.engine.cells.protocol import CELL_COST_FEATURES
    from bptt_studio.engine.cells.registry import CELLS

    owned = {(phase, f"{feature}_{cell}"): (cell, feature) for cell in CELLS
             for phase, features in CELL_COST_FEATURES.items() for feature in features}
    shared: dict[str, dict[str, float]] = {}
    cells = {cell: {phase: dict.fromkeys(features, 0.0)
                    for phase, features in CELL_COST_FEATURES.items()} for cell in CELLS}
    for phase, coefficients in cpu.items():
        shared[phase] = {}
        for name, value in coefficients.items():
            if (phase, name) in owned:
                cell, feature = owned[phase, name]
                cells[cell][phase][feature] = value
            else:
                shared[phase][name] = value
    return shared, cells


def _table(values: dict[str, dict[str, float]]) -> str:
    """{phase: {feature: coefficient}} as the lines of a Python dict, 98 columns wide."""
    out = []
    for phase, coefficients in values.items():
        line = f"    {phase!r}: {{"
        for name, value in sorted(coefficients.items()):
            item = f"{name!r}: {value:.4g}, " if value else f"{name!r}: 0.0, "
            if len(line) + len(item) > 98:
                out.append(line.rstrip())
                line = "        "
            line += item
        out.append(line.rstrip(", ") + "},")
    return "\n".join(out)


def cell_block(coefficients: dict[str, dict[str, float]]) -> str:
    """The COST block of a cell module."""
    return f"COST: dict[str, dict[str, float]] = {{\n{_table(coefficients)}\n}}\n"


def block(model: dict[str, Any], measured_count: int) -> str:
    """The CALIBRATION block of engine/cost.py (the shared coefficients)."""
    cpu_model = re.sub(r"\s+", " ", platform.processor() or _cpu_model()).strip()
    when = datetime.date.today().isoformat()
    note = (f"{when}: bench/calibrate_cost.py, {measured_count} requests in fresh processes "
            f"on {os.cpu_count()} x {cpu_model}, Python {platform.python_version()}, NumPy "
            f"{np.__version__}, OpenBLAS on one thread")

    shared, _ = split_cells(model["cpu"])
    lines = [note[i:i + 88] for i in range(0, len(note), 88)]
    return ("CALIBRATION = (\n" + "".join(f"    {line!r}\n" for line in lines) + ")\n"
            f"CPU: dict[str, dict[str, float]] = {{\n{_table(shared)}\n}}\n"
            f"MEMORY: dict[str, dict[str, float]] = {{\n{_table(model['memory'])}\n}}\n"
            f"MARGIN: tuple[float, float] = {model['margin']}\n")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1]
    return platform.machine()


def write_between(path: Path, marker: str, text_block: str) -> None:
    """Replace the lines between ``# <marker>-BEGIN`` and ``# <marker>-END`` of a file."""
    source = path.read_text()
    begin = source.index(f"# {marker}-BEGIN")
    begin = source.index("\n", begin) + 1
    end = source.index(f"# {marker}-END")
    path.write_text(source[:begin] + text_block + source[end:])


def write_block(text_block: str, model: dict[str, Any]) -> None:
    """engine/cost.py's block, and each registered cell's own COST in its module."""
    import inspect

    from bptt_studio.engine.cells.registry import CELLS

    write_between(COST_FILE, "CALIBRATION", text_block)
    _, cells = split_cells(model["cpu"])
    for name, coefficients in cells.items():
        module_file = inspect.getsourcefile(CELLS[name])  # type: ignore[arg-type]
        if module_file is not None:
            write_between(Path(module_file), "COST", cell_block(coefficients))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--save")
    parser.add_argument("--load", nargs="*", default=[])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    sys.path.insert(0, str(ROOT))
    if args.load:
        measured = [m for path in args.load for m in json.loads(Path(path).read_text())]
    else:
        specs = specs_to_measure(args.samples, args.seed)
        started = time.monotonic()
        with ThreadPoolExecutor(args.jobs) as pool:
            measured = list(pool.map(run_child, specs))
        print(f"measured {len(measured)} requests in {time.monotonic() - started:.0f} s")
        if args.save:
            Path(args.save).write_text(json.dumps(measured))
    model = fit(measured)
    print(report(model))
    text_block = block(model, len(measured))
    print(text_block)
    if args.write:
        write_block(text_block, model)
        comparison = _compare(measured)
        large_cpu = [c for c in comparison if c[1] >= SIGNIFICANT["cpu"]]
        large_mem = [c for c in comparison if c[3] >= SIGNIFICANT["memory"]]
        print(f"with engine/cost.py as written, measured / estimated, whole requests over "
              f"{SIGNIFICANT['cpu']} CPU-s: largest {max(c[1] / c[2] for c in large_cpu):.2f}, "
              f"median {np.median([c[1] / c[2] for c in large_cpu]):.2f}; over "
              f"{SIGNIFICANT['memory'] / 1e6:.0f} MB: largest "
              f"{max(c[3] / c[4] for c in large_mem):.2f}, median "
              f"{np.median([c[3] / c[4] for c in large_mem]):.2f}; all requests: largest "
              f"{max(c[1] / c[2] for c in comparison):.2f} (CPU), "
              f"{max(c[3] / c[4] for c in comparison):.2f} (memory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
