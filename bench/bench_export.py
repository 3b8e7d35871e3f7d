"""The tidy CSV and the neuron view at the server's limits: rows, bytes, CPU time, peak memory.

    .venv/bin/python bench/bench_export.py [--repeats 3]

Each endpoint of each case runs in a fresh process (so its peak resident memory is its own):
the endpoint's run (app/endpoints/registry.py) with the default settings, against
/api/v1/trace's own run on the same request (detail auto: the detail the CSV chooses too; each
run writes its response's bytes).
Reported: CSV rows and bytes, the detail chosen, the JSON's bytes, CPU seconds
(time.process_time, median of the repeats) of the CSV, of /trace and of the neuron view, and
the growth of the peak resident memory (ru_maxrss, MB) over the process after its imports,
for the CSV and for /trace.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

# T, D = K and H at the default limits (BPTT_MAX_SEQ_LEN, BPTT_MAX_INPUT_SIZE,
# BPTT_MAX_HIDDEN_SIZE); BPTT(1, 2) is the longest schedule within BPTT_MAX_BACKWARD_STEPS.
LIMITS = {"T": 200, "D": 128, "H": 64}
CASES = [(cell, truncation) for cell in ("rnn", "lstm", "gru")
         for truncation in (None, {"k1": 1, "k2": 2})]
# The largest full-detail export: an LSTM whose full trace JSON stays under 8 MB.
FULL_CASE = {"cell": "lstm", "T": 60, "D": 16, "H": 16}


def _request(cell: str, T: int, D: int, H: int, truncation: dict | None) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    data = {"inputs": rng.normal(size=(T, D)).round(3).tolist(),
            "targets": rng.integers(0, D, size=T).tolist()}
    return {"cell": cell, "hidden_size": H, "data": data, "truncation": truncation}


def _child(spec: dict) -> None:
    """One endpoint measured in this process; prints one JSON line."""
    import resource
    import time

    from bptt_studio.core.settings import Settings
    from bptt_studio.endpoints.registry import COMPUTATIONS

    settings = Settings()
    request = _request(spec["cell"], spec["T"], spec["D"], spec["H"], spec["truncation"])
    endpoint, options = {
        "csv": ("export/csv", {"detail": "auto"}),
        "trace": ("trace", {"detail": "auto"}),
        "neuron": ("neuron", {"t": spec["T"] // 2, "unit": 0, "update": None,
                              "convention": "gradient"}),
    }[spec["what"]]

    def run() -> bytes:
        return COMPUTATIONS[endpoint].run(request, options, settings)  # type: ignore[arg-type]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, body = [], b""
    for _ in range(spec["repeats"]):
        start = time.process_time()
        body = run()
        cpu.append(time.process_time() - start)
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    out = {"cpu": statistics.median(cpu), "peak_MB": peak, "MB": len(body) / 1e6}
    if spec["what"] == "csv":
        out["rows"] = body.count(b"\n") - 1
        out["detail"] = "full" if b",contrib.W" in body else "norms"
    print(json.dumps(out))


def _measure(spec: dict, what: str, repeats: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--child",
                          json.dumps({**spec, "what": what, "repeats": repeats})],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    specs = [{"cell": cell, "truncation": truncation, **LIMITS} for cell, truncation in CASES]
    specs.append({**FULL_CASE, "truncation": None})
    print(f"{'case':34} {'detail':6} {'rows':>8} {'CSV MB':>6} {'JSON MB':>7} "
          f"{'CPU csv':>7} {'CPU trace':>9} {'CPU neuron':>10} {'peak csv':>8} "
          f"{'peak trace':>10}")
    for spec in specs:
        csv_, trace, neuron = (_measure(spec, what, args.repeats)
                               for what in ("csv", "trace", "neuron"))
        schedule = "BPTT(1,2)" if spec["truncation"] else "full"
        name = f"{spec['cell']} H={spec['H']} T={spec['T']} D=K={spec['D']} {schedule}"
        print(f"{name:34} {csv_['detail']:6} {csv_['rows']:>8} {csv_['MB']:>6.1f} "
              f"{trace['MB']:>7.1f} {csv_['cpu']:>7.2f} {trace['cpu']:>9.2f} "
              f"{neuron['cpu']:>10.3f} {csv_['peak_MB']:>8.0f} {trace['peak_MB']:>10.0f}")


if __name__ == "__main__":
    main()
