"""The ``bptt-studio neuron``, ``bptt-studio export-csv`` and ``bptt-studio sample`` commands.

    bptt-studio neuron --preset machine --t 3 --unit 1 [--update 0] [--convention haykin]
    bptt-studio export-csv --request req.json [--detail norms] > trace.csv
    bptt-studio sample --preset machine --iterations 200 [--prime m --temperature 0.8]

They print exactly the bytes of POST /api/v1/neuron and POST /api/v1/export/csv for the same
request (same validation, limits and writer); a bad request prints the API's error JSON on
standard error and exits with status 2. Nothing here imports NumPy until a command runs (the
CLI sets the BLAS thread count first).
"""

import argparse
from typing import Any


def _run(args: argparse.Namespace, endpoint: str, overrides: dict[str, Any]) -> int:
    """Validate like the API (this router's models, then the engine), run, print the bytes."""
    from bptt_studio import derived
    from bptt_studio.cli import run_request
    from bptt_studio.derived_api import neuron_body

    if endpoint == "neuron":
        names = derived.NEURON_OPTIONS

        def model_of(schemas: Any, settings: Any) -> Any:
            return neuron_body(schemas, settings)
    else:
        names = derived.CSV_OPTIONS

        def model_of(schemas: Any, settings: Any) -> Any:
            return schemas.trace_body

    return run_request(args, overrides, model_of,
                       lambda body, settings: derived.compute(
                           endpoint, *derived.split(body, names), settings))


def _neuron(args: argparse.Namespace) -> int:
    return _run(args, "neuron", {"t": args.t, "unit": args.unit, "update": args.update,
                                 "convention": args.convention})


def _export_csv(args: argparse.Namespace) -> int:
    return _run(args, "export_csv", {"detail": args.detail})


def _sample(args: argparse.Namespace) -> int:
    from bptt_studio import derived, sampling
    from bptt_studio.cli import run_request

    overrides = {"iterations": args.iterations, "prime": args.prime, "length": args.length,
                 "temperature": args.temperature, "sample_seed": args.sample_seed}
    return run_request(args, overrides, sampling.sample_body,
                       lambda body, settings: derived.compute(
                           "sample", *derived.split(body, sampling.SAMPLE_OPTIONS), settings))


def add_commands(commands: Any) -> None:
    """Add the three commands to the ``bptt-studio`` subparsers."""
    from bptt_studio.cli import _add_request_options

    neuron = commands.add_parser(
        "neuron", help="print the JSON of POST /api/v1/neuron: one hidden unit's delta at "
                       "one backward step, term by term")
    _add_request_options(neuron)
    neuron.add_argument("--t", type=int, help="the backward step (1-based)")
    neuron.add_argument("--unit", type=int, help="the hidden unit (0-based)")
    neuron.add_argument("--update", type=int,
                        help="the update whose window to read (0-based; default: the first "
                             "window holding t)")
    neuron.add_argument("--convention", choices=["gradient", "haykin"],
                        help="gradient: delta = dL/da (default); haykin: delta = -dE/dv")
    neuron.set_defaults(func=_neuron)

    export = commands.add_parser(
        "export-csv", help="print the tidy CSV of POST /api/v1/export/csv: one row per number")
    _add_request_options(export)
    export.add_argument("--detail", choices=["auto", "full", "norms"],
                        help='full matrices, their norms, or "auto" (full while small), '
                             "as /api/v1/trace")
    export.set_defaults(func=_export_csv)

    sample = commands.add_parser(
        "sample", help="print the JSON of POST /api/v1/sample: the text the network writes "
                       "after training")
    _add_request_options(sample)
    sample.add_argument("--iterations", type=int, help="training passes first (default 0)")
    sample.add_argument("--prime", help="what it reads first (default: the data's first token)")
    sample.add_argument("--length", type=int, help="tokens to write (1 to 500; default 100)")
    sample.add_argument("--temperature", type=float, help="> 0 (default 1)")
    sample.add_argument("--sample-seed", type=int, help="seed of the draws (default 0)")
    sample.set_defaults(func=_sample)
